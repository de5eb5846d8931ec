import * as v from "valibot";
import type { Conveyor } from "../../conveyor.ts";
import { JobOptionsFields } from "../../core/job-options.ts";
import { NameSchema } from "../../core/names.ts";
import { ScheduleOptionsSchema } from "../../scheduler/schedule-options.ts";
import type { Scheduler } from "../../scheduler/scheduler.ts";
import { HttpError } from "../errors.ts";
import { type Route, route } from "../route.ts";

const IdParams = v.object({ id: NameSchema });
const ScheduleFields = {
  when: v.union([v.strictObject({ cron: v.pipe(v.string(), v.minLength(1), v.maxLength(200)) }), v.strictObject({ everyMs: v.pipe(v.number(), v.integer(), v.minValue(1)) })]),
  queue: NameSchema,
  /** Name of a job definition registered on the queue. */
  job: NameSchema,
  payload: v.unknown(),
  jobOptions: v.optional(v.omit(JobOptionsFields, ["jobId", "delayMs", "runAt", "dedupKey"])),
  options: v.optional(ScheduleOptionsSchema),
};
const ScheduleBody = v.strictObject(ScheduleFields);

/** Schedules: the same operations as `Scheduler`, over HTTP. */
export function scheduleRoutes(conveyor: Conveyor, scheduler: Scheduler): Route[] {
  const save = async (id: string, body: v.InferOutput<typeof ScheduleBody>) => {
    // Looked up, never made: a schedule for a queue no code declared would make one.
    const job = conveyor.queues.get(body.queue)?.definitions.get(body.job);
    if (!job) throw new HttpError(400, "UNKNOWN_JOB", `No job named "${body.job}" is registered on queue "${body.queue}" in this server`);
    const when = "cron" in body.when ? body.when.cron : { everyMs: body.when.everyMs };
    return await scheduler.schedule(id, when, { queue: body.queue, job, payload: body.payload as never, options: body.jobOptions }, body.options as never);
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
      body: v.strictObject({ id: NameSchema, ...ScheduleFields }),
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
