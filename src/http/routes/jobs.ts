import { streamSSE } from "hono/streaming";
import * as v from "valibot";
import type { Conveyor } from "../../conveyor.ts";
import { EVENT_TYPES } from "../../core/events.ts";
import { JOB_STATES } from "../../core/job.ts";
import { JobDataSchema } from "../../core/job-data.ts";
import { JobOptionsFields } from "../../core/job-options.ts";
import { NameSchema } from "../../core/names.ts";
import { type Caller, permits, requireScope } from "../auth.ts";
import { HttpError } from "../errors.ts";
import { declaredQueue } from "../queues.ts";
import type { Permissions } from "../permission-config.ts";
import { StacksQuery, readerView } from "../reader-access.ts";
import { creator, eventFilter, visibleCounts, visibleJob, visiblePage } from "../record-access.ts";
import { checkPermission } from "../permissions.ts";
import { type Grant, type Route, route, validated } from "../route.ts";

const QueueParams = v.object({ queue: NameSchema });
const JobParams = v.object({ queue: NameSchema, id: v.pipe(v.string(), v.minLength(1), v.maxLength(200)) });
const count = (min: number, max: number) => v.optional(v.pipe(v.string(), v.regex(/^\d+$/, "a whole number"), v.transform(Number), v.minValue(min), v.maxValue(max)));
// limit=0 is refused here, as a 400: the core refuses it too, but as a programmer's TypeError (a 500).
const Page = { offset: count(0, 1_000_000), limit: count(1, 1_000) };
export const NewJobBody = v.strictObject({
  /** Name of a job definition registered on the queue. */
  name: NameSchema,
  /** Any JSON within MAX_DATA_DEPTH, checked before the job's own schema (which may recurse). */
  payload: JobDataSchema,
  options: v.optional(JobOptionsFields),
});

/**
 * Who enqueued, recorded on the jobs: the token's subject, or with permissions configured its
 * tenant and subject (`tenant:<tenant>/<subject>`, for record-level visibility); nothing when auth is off.
 */
export const actor = (caller: Caller, permissions: Permissions | null = null) => creator(caller, permissions);
/** A limited grant is no grant for what touches every job of a queue (pause, purge, retry-all). */
const everyRecord = (caller: Caller, action: string, queue: string) => requireScope(caller, action, queue, { allRecords: true });
const by = (caller: Caller) => (caller.subject === null ? {} : { by: caller.subject.slice(0, 256) });

/**
 * Jobs, queues and the dead-letter store. Cancel and retry pass no audit sink to the queue: the
 * app records them itself (audit-trail.ts), with the request's address and id.
 */
export function jobRoutes(conveyor: Conveyor): Route[] {
  const declared = (name: string) => declaredQueue(conveyor, name);
  /** The job's definition, with the payload checked against its schema here, before the core sees it. */
  const definition = (queue: string, name: string, payload: unknown, where: string) => {
    const found = declared(queue).definitions.get(name);
    if (!found) throw new HttpError(400, "UNKNOWN_JOB", `No job named "${name}" is registered on queue "${queue}" in this server`);
    validated(found.schema, payload, where, `${where} for job "${name}"`);
    return found;
  };
  return [
    route({
      method: "get", path: "/queues", tag: "queues", scope: "jobs:read", summary: "Every queue this server knows, with counts per state",
      // Only the queues the caller may read, each counted over the records it may see.
      handle: async ({ caller }) => ({
        queues: await Promise.all([...conveyor.queues.values()].filter((q) => permits(caller, "jobs:read", q.name)).map(async (q) => ({
          name: q.name,
          paused: await q.isPaused(),
          counts: await visibleCounts(q, checkPermission(caller, "jobs:read", { queue: q.name }) as Grant),
        }))),
      }),
    }),
    route({
      method: "post", path: "/queues/:queue/jobs", tag: "jobs", scope: "jobs:write", permission: "jobs:create", status: 201, summary: "Enqueue one job",
      params: QueueParams, body: NewJobBody,
      handle: async ({ params, body, caller, permissions }) => ({
        job: await declared(params.queue).add(definition(params.queue, body.name, body.payload, "body.payload"), body.payload as never, {
          ...body.options,
          ...actor(caller, permissions),
        }),
      }),
    }),
    route({
      method: "post", path: "/queues/:queue/jobs/bulk", tag: "jobs", scope: "jobs:write", permission: "jobs:create", status: 201, summary: "Enqueue up to 1,000 jobs, all or none",
      params: QueueParams, body: v.strictObject({ jobs: v.pipe(v.array(NewJobBody), v.minLength(1), v.maxLength(1_000)) }),
      handle: async ({ params, body, caller, permissions }) => ({
        jobs: await declared(params.queue).addBulk(
          body.jobs.map((j, i) => ({
            job: definition(params.queue, j.name, j.payload, `body.jobs.${i}.payload`),
            payload: j.payload,
            options: { ...j.options, ...actor(caller, permissions) },
          })),
        ),
      }),
    }),
    route({
      method: "get", path: "/queues/:queue/jobs", tag: "jobs", scope: "jobs:read", summary: "Jobs in one state, a page at a time",
      params: QueueParams, query: v.strictObject({ state: v.picklist(JOB_STATES), ...Page, ...StacksQuery }),
      handle: async ({ params, query, grant }) => ({
        jobs: await visiblePage(declared(params.queue), query.state, grant, { offset: query.offset ?? 0, limit: query.limit ?? 50 }),
      }),
    }),
    route({
      method: "get", path: "/queues/:queue/jobs/:id", tag: "jobs", scope: "jobs:read", summary: "One job",
      params: JobParams, query: v.strictObject(StacksQuery),
      handle: async ({ params, grant }) => ({ job: await visibleJob(declared(params.queue), params.id, grant) }),
    }),
    route({
      method: "post", path: "/queues/:queue/jobs/:id/cancel", tag: "jobs", scope: "jobs:write", permission: "jobs:update", summary: "Cancel a waiting, delayed or active job",
      params: JobParams,
      handle: async ({ params, caller, grant }) => {
        if (!grant.allRecords) await visibleJob(declared(params.queue), params.id, grant);
        return { previous: await declared(params.queue).cancel(params.id, by(caller), null) };
      },
    }),
    route({
      method: "post", path: "/queues/:queue/jobs/:id/retry", tag: "jobs", scope: "jobs:write", permission: "jobs:update", summary: "Retry a failed, dead or cancelled job",
      params: JobParams,
      handle: async ({ params, caller, grant }) => {
        if (!grant.allRecords) await visibleJob(declared(params.queue), params.id, grant);
        return { job: await declared(params.queue).retry(params.id, by(caller), null) };
      },
    }),
    route({
      method: "delete", path: "/queues/:queue/jobs/:id", tag: "jobs", scope: "jobs:write", permission: "jobs:delete", summary: "Remove a job that is not active",
      params: JobParams,
      handle: async ({ params, grant }) => {
        if (!grant.allRecords) await visibleJob(declared(params.queue), params.id, grant);
        await declared(params.queue).remove(params.id);
        return { removed: params.id };
      },
    }),
    route({
      method: "post", path: "/queues/:queue/pause", tag: "queues", scope: "jobs:write", permission: "jobs:update", summary: "Stop every worker of the queue taking jobs",
      params: QueueParams,
      handle: async ({ params, caller }) => {
        everyRecord(caller, "jobs:update", params.queue);
        await declared(params.queue).pause();
        return { paused: true };
      },
    }),
    route({
      method: "post", path: "/queues/:queue/resume", tag: "queues", scope: "jobs:write", permission: "jobs:update", summary: "Let the queue's workers take jobs again",
      params: QueueParams,
      handle: async ({ params, caller }) => {
        everyRecord(caller, "jobs:update", params.queue);
        await declared(params.queue).resume();
        return { paused: false };
      },
    }),
    route({
      method: "get", path: "/queues/:queue/dead", tag: "dead letters", scope: "jobs:read", summary: "The dead-letter store, newest first",
      params: QueueParams, query: v.strictObject({ ...Page, ...StacksQuery }),
      handle: async ({ params, query, grant }) => ({
        jobs: await visiblePage(declared(params.queue), "dead", grant, { offset: query.offset ?? 0, limit: query.limit ?? 50 }),
      }),
    }),
    route({
      method: "post", path: "/queues/:queue/dead/retry", tag: "dead letters", scope: "jobs:write", permission: "jobs:update", summary: "Retry dead jobs: the ids given, or up to 1,000",
      params: QueueParams, body: v.strictObject({ ids: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.maxLength(1_000))) }),
      handle: async ({ params, body, caller, grant }) => {
        const queue = declared(params.queue);
        // A limited grant retries the dead jobs it covers: those listed must be among them (else 404).
        const ids = body.ids ?? (await visiblePage(queue, "dead", grant, { offset: 0, limit: 1_000 })).map((j) => j.id);
        if (!grant.allRecords && body.ids) for (const id of ids) await visibleJob(queue, id, grant);
        const retried: string[] = [];
        for (const id of ids) retried.push((await queue.retry(id, by(caller), null)).id);
        return { retried };
      },
    }),
    route({
      method: "delete", path: "/queues/:queue/dead", tag: "dead letters", scope: "jobs:write", permission: "jobs:delete", summary: "Purge the dead-letter store",
      params: QueueParams,
      handle: async ({ params, caller }) => {
        everyRecord(caller, "jobs:delete", params.queue);
        return { purged: await declared(params.queue).clean("dead") };
      },
    }),
    route({
      method: "get", path: "/queues/:queue/events", tag: "queues", scope: "jobs:read", summary: "Live lifecycle events as Server-Sent Events",
      params: QueueParams, query: v.strictObject({ types: v.optional(v.pipe(v.string(), v.transform((s) => s.split(",")), v.array(v.picklist(EVENT_TYPES)))), ...StacksQuery }),
      handle: ({ c, params, query, access, grant }) => {
        const queue = declared(params.queue);
        const visible = eventFilter(queue, grant);
        return streamSSE(c, async (sse) => {
          const reader = queue.events.stream({ types: query.types }).getReader();
          sse.onAbort(() => void reader.cancel());
          await queue.events.ready();
          await sse.writeSSE({ event: "ready", data: "{}" });
          for (let next = await reader.read(); !next.done; next = await reader.read()) {
            if (!(await visible(next.value))) continue;
            await sse.writeSSE({ event: next.value.type, data: JSON.stringify(readerView(conveyor.redactor, next.value, access)) });
          }
        });
      },
    }),
  ];
}
