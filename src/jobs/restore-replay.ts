import { ConveyorError, type ErrorInfo } from "../core/errors.ts";
import { FINISHED_STATES, type Job, type JobFlow, type NewJob } from "../core/job.ts";
import type { Outcome, QueueStore } from "../core/store-contract.ts";

/**
 * A job is rebuilt through the store contract alone, so a restore works on every store: it is
 * enqueued, then claimed and finished once per attempt it had made, with the times it had
 * (claims at its start, the last outcome at its finish), so the target store writes its own
 * records and indexes. A job that had no attempt and is still pending is only enqueued.
 */

const WORKER = "conveyor-restore";
/** Leases outlast the replay: a claim stamped in the past must not look expired to the store. */
const LEASE_SLACK_MS = 24 * 60 * 60 * 1000;
const EARLIER_ATTEMPT: ErrorInfo = Object.freeze({ name: "Error", message: "an attempt made before the backup" });

/** True when the job needs claims (attempts, or a finished state) rather than a plain enqueue. */
export function needsReplay(job: Job): boolean {
  return job.attemptsMade > 0 || FINISHED_STATES.has(job.state);
}

export interface Restored {
  /** Ids the target already held (a custom `jobId` restored before, or a pending dedup key): left as they were. */
  skipped: number;
  /** Jobs whose flow links (parent, children) were dropped: see `linkless`. */
  unlinked: number;
}

/**
 * The job to enqueue. Store-made ids (all digits) are left to the target store, whose own counter
 * would otherwise hand them out again; custom ids are kept. Flow links to other jobs are dropped
 * (their ids may change); a finished job keeps none of its chain, whose next step already ran.
 */
export function newJobOf(job: Job, tally: Restored): NewJob {
  const flow = linkless(job, tally);
  return {
    id: /^\d+$/.test(job.id) ? null : job.id,
    name: job.name,
    payload: job.payload,
    priority: job.priority,
    createdAt: job.createdAt,
    runAt: job.runAt,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    dedupKey: job.dedupKey,
    removeOnComplete: job.removeOnComplete,
    removeOnFail: job.removeOnFail,
    // The final failure's destination is the job's state, whatever the flag said then.
    deadLetter: job.state === "dead" ? true : job.state === "failed" ? false : job.deadLetter,
    createdBy: job.createdBy,
    flow,
  };
}

function linkless(job: Job, tally: Restored): JobFlow | null {
  const flow = job.flow;
  if (flow === null) return null;
  if (flow.parent !== null || flow.family !== null) tally.unlinked++;
  const chain = FINISHED_STATES.has(job.state) ? null : flow.chain;
  if (chain === null && flow.previous === null) return null;
  return { chain, previous: flow.previous, parent: null, family: null };
}

/** Claims an attempt needs: one per attempt made, and one for a final outcome. */
function claimsOf(job: Job): number {
  const final = job.state === "completed" || job.state === "failed" || job.state === "dead";
  return Math.max(job.attemptsMade, final ? 1 : 0);
}

/**
 * Replays a batch of one queue's jobs. Each starts in the round that lets it end in the last
 * one, so no job claimed again after it reached its state. The queue must have no other due
 * job (restore checks): a claim takes whatever is due.
 */
export async function replayBatch(store: QueueStore, queue: string, jobs: readonly Job[], tally: Restored): Promise<void> {
  const rounds = Math.max(0, ...jobs.map(claimsOf));
  const claimAt = Math.min(...jobs.map((j) => j.startedAt ?? j.createdAt));
  const finishAt = Math.max(claimAt, ...jobs.map((j) => j.finishedAt ?? claimAt));
  const leaseMs = finishAt - claimAt + LEASE_SLACK_MS;
  const byId = new Map<string, { job: Job; token: string }>();

  for (let round = 1; round <= rounds; round++) {
    const starting = jobs.filter((job) => claimsOf(job) === rounds - round + 1);
    if (starting.length > 0) {
      const results = await store.enqueue(queue, { jobs: starting.map((job) => ({ ...newJobOf(job, tally), runAt: claimAt })), now: claimAt });
      results.forEach((result, i) => {
        if (result.created) byId.set(result.job.id, { job: starting[i]!, token: "" });
        else tally.skipped++;
      });
    }
    await claimAll(store, queue, byId, claimAt, leaseMs);
    const last = round === rounds;
    if (last) await Promise.all([...byId].map(([id, held]) => extras(store, queue, id, held, claimAt)));
    const outcomes = [...byId].map(([id, held]) => last ? finalOutcome(id, held, claimAt) : retry(id, held.token, held.job.lastError, claimAt));
    await store.finish(queue, { outcomes, now: last ? finishAt : claimAt });
  }
  // Cancelled jobs: brought to where they were cancelled from (after any attempts), then cancelled.
  const cancelled = jobs.filter((job) => job.state === "cancelled" && claimsOf(job) === 0);
  if (cancelled.length > 0) {
    const results = await store.enqueue(queue, { jobs: cancelled.map((job) => newJobOf(job, tally)), now: claimAt });
    results.forEach((result, i) => {
      if (result.created) byId.set(result.job.id, { job: cancelled[i]!, token: "" });
      else tally.skipped++;
    });
  }
  await Promise.all([...byId].filter(([, held]) => held.job.state === "cancelled").map(([id, held]) =>
    store.cancel(queue, { id, now: held.job.finishedAt ?? finishAt, by: held.job.changedBy?.action === "cancel" ? held.job.changedBy.by : null })
  ));
}

/** Claims every job in play; a due job not ours (a producer raced the restore) is given back. */
async function claimAll(store: QueueStore, queue: string, byId: Map<string, { job: Job; token: string }>, now: number, leaseMs: number): Promise<void> {
  let missing = byId.size;
  for (let tries = 0; missing > 0 && tries < 5; tries++) {
    const { jobs } = await store.claim(queue, { workerId: WORKER, limit: missing, leaseMs, now });
    for (const claimed of jobs) {
      const held = byId.get(claimed.id);
      if (held && claimed.lease) {
        held.token = claimed.lease.token;
        missing--;
      } else if (claimed.lease) {
        await store.release(queue, { id: claimed.id, token: claimed.lease.token, now });
      }
    }
    if (jobs.length === 0) break;
  }
  if (missing > 0) {
    throw new ConveyorError("STORE_CONFLICT", `Restore into queue "${queue}": ${missing} restored jobs could not be claimed back (is the queue paused, or a worker running on it?)`);
  }
}

/** Progress, logs and steps, written while the last claim holds the job. */
async function extras(store: QueueStore, queue: string, id: string, held: { job: Job; token: string }, now: number): Promise<void> {
  const { job, token } = held;
  if (job.progress !== null && job.progress !== undefined) await store.setProgress(queue, { id, token, progress: job.progress, now });
  for (const line of job.logs) await store.appendLog(queue, { id, token, line });
  for (const [step, value] of Object.entries(job.steps ?? {})) await store.saveStep(queue, { id, token, step, value, now });
}

function retry(id: string, token: string, error: ErrorInfo | null, at: number): Outcome {
  return { id, token, kind: "failed", error: error ?? EARLIER_ATTEMPT, retryAt: at };
}

function finalOutcome(id: string, held: { job: Job; token: string }, claimAt: number): Outcome {
  const { job, token } = held;
  if (job.state === "completed") return { id, token, kind: "completed", result: job.result };
  if (job.state === "failed" || job.state === "dead") {
    return { id, token, kind: "failed", error: job.lastError ?? EARLIER_ATTEMPT, retryAt: null, reason: job.dead?.reason ?? "attempts-exhausted" };
  }
  // Still pending (or cancelled later): back to waiting, or delayed until its due time.
  return retry(id, token, job.lastError, job.state === "active" ? claimAt : job.runAt);
}
