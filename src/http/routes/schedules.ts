import * as v from "valibot";
import type { Conveyor } from "../../conveyor.ts";
import { JobOptionsFields } from "../../core/job-options.ts";
import { NameSchema } from "../../core/names.ts";
import { NamedBatchSchema, NamedChainSchema, NamedFlowSchema, resolveBatch, resolveChain, resolveFlow } from "../../core/workflow-spec.ts";
import { ScheduleOptionsSchema } from "../../scheduler/schedule-options.ts";
import type { Scheduler, ScheduleTarget } from "../../scheduler/scheduler.ts";
import { HttpError } from "../errors.ts";
import { type Route, route } from "../route.ts";
import { declaredLookup } from "./workflows.ts";

const IdParams = v.object({ id: NameSchema });
const ScheduleFields = {
  when: v.union([v.strictObject({ cron: v.pipe(v.string(), v.minLength(1), v.maxLength(200)) }), v.strictObject({ everyMs: v.pipe(v.number(), v.integer(), v.minValue(1)) })]),
  queue: NameSchema,
  /** Name of a job definition registered on the queue; or one of chain, flow, batch. */
  job: v.optional(NameSchema),
  payload: v.optional(v.unknown()),
  jobOptions: v.optional(v.omit(JobOptionsFields, ["jobId", "delayMs", "runAt", "dedupKey"])),
  /** A chain, flow or batch by job name (as POST /queues/:queue/chains|flows|batches take it), started on `queue` at each tick. */
  chain: v.optional(NamedChainSchema),
  flow: v.optional(NamedFlowSchema),
  batch: v.optional(NamedBatchSchema),
  options: v.optional(ScheduleOptionsSchema),
};
type Fields = { job?: unknown; payload?: unknown; jobOptions?: unknown; chain?: unknown; flow?: unknown; batch?: unknown };
const oneTarget = <T extends Fields>() =>
  v.check<T, string>((body) => {
    const given = [body.job, body.chain, body.flow, body.batch].filter((part) => part !== undefined).length;
    return given === 1 && (body.job === undefined ? body.payload === undefined && body.jobOptions === undefined : body.payload !== undefined);
  }, "one of job (with payload, and jobOptions if any), chain, flow or batch");
const ScheduleObject = v.strictObject(ScheduleFields);
const ScheduleBody = v.pipe(ScheduleObject, oneTarget<v.InferOutput<typeof ScheduleObject>>());
const NewScheduleObject = v.strictObject({ id: NameSchema, ...ScheduleFields });
const NewScheduleBody = v.pipe(NewScheduleObject, oneTarget<v.InferOutput<typeof NewScheduleObject>>());

/** Schedules: the same operations as `Scheduler`, over HTTP. */
export function scheduleRoutes(conveyor: Conveyor, scheduler: Scheduler): Route[] {
  const save = async (id: string, body: v.InferOutput<typeof ScheduleBody>) => {
    // Looked up, never made: a schedule for a queue no code declared would make one.
    const lookup = declaredLookup(conveyor);
    let target: ScheduleTarget;
    if (body.job !== undefined) {
      const job = lookup(body.queue, body.job);
      if (!job) throw new HttpError(400, "UNKNOWN_JOB", `No job named "${body.job}" is registered on queue "${body.queue}" in this server`);
      target = { queue: body.queue, job, payload: body.payload as never, options: body.jobOptions };
    } else {
      // Resolved here first, with names looked up without making queues; the scheduler checks again.
      const ctx = (kind: string) => ({ queue: body.queue, lookup, path: `body.${kind}` });
      if (body.chain) target = { queue: body.queue, chain: resolveChain(body.chain, ctx("chain")).spec };
      else if (body.flow) target = { queue: body.queue, flow: resolveFlow(body.flow, ctx("flow")).spec };
      else target = { queue: body.queue, batch: resolveBatch(body.batch, ctx("batch")).spec };
    }
    const when = "cron" in body.when ? body.when.cron : { everyMs: body.when.everyMs };
    return await scheduler.schedule(id, when, target, body.options as never);
  };
  const existing = async (id: string) => {
    const info = await scheduler.get(id);
    if (!info) throw new HttpError(404, "SCHEDULE_NOT_FOUND", `No schedule "${id}"`);
    return info;
  };
  return [
    route({
      method: "get", path: "/schedules", tag: "schedules", scope: "schedules:read", summary: "Every schedule, with next run, last run and last outcome",
      handle: async () => ({ schedules: await scheduler.list() }),
    }),
    route({
      method: "post", path: "/schedules", tag: "schedules", scope: "schedules:write", status: 201, summary: "Create a schedule",
      body: NewScheduleBody,
      handle: async ({ body }) => {
        if (await scheduler.get(body.id)) throw new HttpError(409, "SCHEDULE_EXISTS", `Schedule "${body.id}" already exists; PUT /schedules/${body.id} replaces it`);
        const { id, ...rest } = body;
        return { schedule: await save(id, rest) };
      },
    }),
    route({
      method: "get", path: "/schedules/:id", tag: "schedules", scope: "schedules:read", summary: "One schedule",
      params: IdParams,
      handle: async ({ params }) => ({ schedule: await existing(params.id) }),
    }),
    route({
      method: "put", path: "/schedules/:id", tag: "schedules", scope: "schedules:write", summary: "Create or replace a schedule (its history stays)",
      params: IdParams, body: ScheduleBody,
      handle: async ({ params, body }) => ({ schedule: await save(params.id, body) }),
    }),
    route({
      method: "delete", path: "/schedules/:id", tag: "schedules", scope: "schedules:write", summary: "Delete a schedule",
      params: IdParams,
      handle: async ({ params }) => {
        if (!(await scheduler.remove(params.id))) throw new HttpError(404, "SCHEDULE_NOT_FOUND", `No schedule "${params.id}"`);
        return { removed: params.id };
      },
    }),
    ...(["pause", "resume"] as const).map((action) =>
      route({
        method: "post", path: `/schedules/:id/${action}`, tag: "schedules", scope: "schedules:write", summary: `${action === "pause" ? "Pause" : "Resume"} a schedule`,
        params: IdParams,
        handle: async ({ params }) => {
          await existing(params.id);
          return { schedule: await scheduler[action](params.id) };
        },
      })
    ),
    route({
      method: "post", path: "/schedules/:id/trigger", tag: "schedules", scope: "schedules:write", status: 201, summary: "Enqueue a run now",
      params: IdParams,
      handle: async ({ params }) => {
        await existing(params.id);
        return { job: await scheduler.trigger(params.id) };
      },
    }),
  ];
}
