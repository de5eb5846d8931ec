import type { ConveyorEventData } from "../../core/events.ts";
import type { DeadLetterInfo, Job, JobState } from "../../core/job.ts";
import type { Outcome } from "../contract.ts";

/**
 * What happens to one job in each transition, as pure functions from the job as read to the
 * job to write and the events it causes. The store wraps them in checked atomic commits.
 */
export interface Step {
  readonly job: Job;
  readonly events: ConveyorEventData[];
}

/** Back to waiting (or delayed, when `runAt` is later than now) behind everything there. */
export function scheduled(job: Job, runAt: number, seq: number, now: number, extra: Partial<Job> = {}): Job {
  return { ...job, ...extra, state: runAt > now ? "delayed" : "waiting", runAt, seq, lease: null };
}

export function claimed(job: Job, workerId: string, token: string, leaseMs: number, now: number): Step {
  const next: Job = { ...job, state: "active", startedAt: now, lease: { token, workerId, expiresAt: now + leaseMs } };
  return {
    job: next,
    events: [{ type: "active", queue: job.queue, at: now, jobId: job.id, name: job.name, attempt: job.attemptsMade + 1, workerId }],
  };
}

export function finishedAs(job: Job, state: JobState, now: number, extra: Partial<Job> = {}): Job {
  return { ...job, ...extra, state, lease: null, finishedAt: now };
}

function finalFailure(job: Job, reason: DeadLetterInfo["reason"], now: number, events: ConveyorEventData[]): Job {
  if (!job.deadLetter) return finishedAs(job, "failed", now);
  const dead: DeadLetterInfo = { reason, at: now, attempts: job.attemptsMade, queue: job.queue, error: job.lastError };
  events.push({ type: "dead", queue: job.queue, at: now, jobId: job.id, name: job.name, deadLetter: dead });
  return finishedAs(job, "dead", now, { dead });
}

/** The outcome of an attempt reported by the job's lease holder. */
export function recorded(job: Job, outcome: Outcome, seq: number, now: number): Step {
  const attemptsMade = job.attemptsMade + 1;
  const ref = { queue: job.queue, at: now, jobId: job.id, name: job.name };
  if (outcome.kind === "completed") {
    return {
      job: finishedAs(job, "completed", now, { attemptsMade, result: outcome.result }),
      events: [{ ...ref, type: "completed", attempt: attemptsMade, result: outcome.result, durationMs: now - (job.startedAt ?? now) }],
    };
  }
  const events: ConveyorEventData[] = [{ ...ref, type: "failed", attempt: attemptsMade, error: outcome.error, final: outcome.retryAt === null }];
  const failed: Job = { ...job, attemptsMade, lastError: outcome.error, lease: null };
  if (outcome.retryAt === null) return { job: finalFailure(failed, outcome.reason ?? "attempts-exhausted", now, events), events };
  events.push({ ...ref, type: "retrying", attempt: attemptsMade + 1, retryAt: outcome.retryAt });
  return { job: scheduled(failed, outcome.retryAt, seq, now), events };
}

/** A job whose lease expired: requeued, or failed for good once it stalled too often. */
export function stalled(job: Job, maxStalls: number, seq: number, now: number): Step & { requeued: boolean } {
  const stalls = job.stalls + 1;
  const requeued = stalls <= maxStalls;
  const events: ConveyorEventData[] = [{ type: "stalled", queue: job.queue, at: now, jobId: job.id, name: job.name, stalls, requeued }];
  if (requeued) return { job: scheduled(job, now, seq, now, { stalls }), events, requeued };
  const failed: Job = {
    ...job,
    stalls,
    attemptsMade: job.attemptsMade + 1,
    lastError: { name: "ConveyorError", code: "STALLED", message: `job stalled ${stalls} times` },
    lease: null,
  };
  return { job: finalFailure(failed, "stalled", now, events), events, requeued };
}

/** A failed, dead or cancelled job sent back with a fresh set of attempts. */
export function retried(job: Job, seq: number, now: number, by: string | null): Job {
  const changedBy = by === null ? job.changedBy : { action: "retry" as const, by, at: now };
  return scheduled(job, now, seq, now, { attemptsMade: 0, stalls: 0, dead: null, finishedAt: null, changedBy });
}
