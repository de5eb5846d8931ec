import type { OperatorAction } from "../core/audit-entry.ts";

/** What an entry names, from the request (`params`, `body`) and, when it succeeded, the answer. */
export interface AuditTarget {
  readonly queue?: string | null;
  readonly jobId?: string | null;
  readonly scheduleId?: string | null;
  readonly details?: Record<string, unknown> | null;
}

interface Parts {
  readonly params: Record<string, string | undefined>;
  // deno-lint-ignore no-explicit-any
  readonly body: any;
}

export interface RouteAudit {
  readonly action: OperatorAction;
  // deno-lint-ignore no-explicit-any
  target(request: Parts, result: any): AuditTarget;
}

const onQueue = ({ params }: Parts) => ({ queue: params.queue });
const onJob = ({ params }: Parts) => ({ queue: params.queue, jobId: params.id });
const onSchedule = ({ params }: Parts) => ({ scheduleId: params.id });
/** Ids of a bulk change, a few of them: the count says how many there were. */
const some = (ids: readonly string[]) => ({ count: ids.length, ids: ids.slice(0, 20) });

/**
 * Every route of the HTTP app that changes something, by "METHOD path", and the entry it
 * writes. A write route missing here fails `createApp` (see app.ts), so none goes unrecorded.
 */
export const AUDITED_ROUTES: Readonly<Record<string, RouteAudit>> = Object.freeze({
  "POST /queues/:queue/jobs": {
    action: "job.enqueue",
    // The hot one (every enqueue): plain objects, no spreads.
    target: (r, result) => ({
      queue: r.params.queue,
      jobId: result?.job?.id,
      details: result?.job?.duplicate ? { name: r.body?.name, duplicate: true } : { name: r.body?.name },
    }),
  },
  "POST /queues/:queue/jobs/bulk": {
    action: "job.bulk",
    target: (r, result) => ({ ...onQueue(r), details: result ? some(result.jobs.map((job: { id: string }) => job.id)) : { count: r.body?.jobs?.length } }),
  },
  "POST /queues/:queue/jobs/:id/cancel": { action: "job.cancel", target: (r, result) => ({ ...onJob(r), details: result ? { previous: result.previous } : null }) },
  "POST /queues/:queue/jobs/:id/retry": { action: "job.retry", target: onJob },
  "DELETE /queues/:queue/jobs/:id": { action: "job.remove", target: onJob },
  "POST /queues/:queue/pause": { action: "queue.pause", target: onQueue },
  "POST /queues/:queue/resume": { action: "queue.resume", target: onQueue },
  "POST /queues/:queue/dead/retry": { action: "dead.retry", target: (r, result) => ({ ...onQueue(r), details: result ? some(result.retried) : null }) },
  "DELETE /queues/:queue/dead": { action: "dead.purge", target: (r, result) => ({ ...onQueue(r), details: result ? { purged: result.purged } : null }) },
  "POST /queues/:queue/chains": { action: "chain.create", target: (r, result) => ({ ...onQueue(r), jobId: result?.job?.id }) },
  "POST /queues/:queue/flows": { action: "flow.create", target: (r, result) => ({ ...onQueue(r), jobId: result?.flow?.job?.id }) },
  "POST /queues/:queue/batches": {
    action: "batch.create",
    target: (r, result) => ({ ...onQueue(r), jobId: result?.batch?.id, details: result ? { total: result.batch.total } : null }),
  },
  "POST /schedules": { action: "schedule.create", target: (r) => ({ scheduleId: r.body?.id, queue: r.body?.queue }) },
  "PUT /schedules/:id": { action: "schedule.update", target: (r) => ({ ...onSchedule(r), queue: r.body?.queue }) },
  "DELETE /schedules/:id": { action: "schedule.delete", target: onSchedule },
  "POST /schedules/:id/pause": { action: "schedule.pause", target: onSchedule },
  "POST /schedules/:id/resume": { action: "schedule.resume", target: onSchedule },
  "POST /schedules/:id/trigger": {
    action: "schedule.trigger",
    target: (r, result) => ({ ...onSchedule(r), queue: result?.job?.queue, jobId: result?.job?.id }),
  },
});
