import type { ConveyorEventData } from "./events.ts";
import { type DeadLetterInfo, type Job, type JobChange, type JobState, PENDING_STATES, type RetentionRule } from "./job.ts";
import type { Outcome } from "./store-contract.ts";

/**
 * The one state machine of a job's life. Every rule a transition applies lives here: the state
 * a job moves to, retry versus dead versus failed, when the dedup key is released, the stall
 * verdict, which retention rule trims the state it enters, and which events fire. Stores call
 * these pure functions (the Redis Lua scripts mirror them, and the shared transition table
 * checks that every store agrees), then apply the result in one atomic step of their own.
 */

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The fields of a job a transition changes; a store applies them as they are. */
export type JobPatch = Partial<Mutable<Omit<Job, "id" | "queue" | "name" | "payload" | "seq" | "state">>>;

/** What one transition does to one job. */
export interface Transition {
  /** The state the job is in afterwards. */
  readonly state: JobState;
  /** Fields to set besides `state`. */
  readonly patch: JobPatch;
  /** True when the job (re-)enters waiting or delayed: it takes a new `seq`, behind everything there. */
  readonly requeued: boolean;
  /** True when the job has finished: its dedup key, if it still holds it, is free again. */
  readonly releasesDedup: boolean;
  /** The rule to trim the finished state it entered by, oldest first; null when it did not finish. */
  readonly retention: RetentionRule | null;
  /** Lifecycle events, in the order subscribers see them. */
  readonly events: ConveyorEventData[];
}

/** Why a transition asked for was not made. */
export type Refusal =
  | "not-found"
  /** cancel: the job had already finished. */
  | "finished"
  /** retry: the job is waiting, delayed or active; only failed, dead or cancelled jobs retry. */
  | "not-retryable"
  /** retry: another pending job holds the dedup key meanwhile; retrying would make two. */
  | "dedup-taken"
  /** remove: a worker holds the job. */
  | "active";

/** Waiting or delayed, by when the job is due. */
export function pendingState(runAt: number, now: number): "waiting" | "delayed" {
  return runAt > now ? "delayed" : "waiting";
}

// Events are written out as literals, field by field: spreading a shared part into each made
// V8 (Node 20) build them on a slow dictionary path, a sixth of the memory store's throughput.

export function requeue(runAt: number, now: number, patch: JobPatch, events: ConveyorEventData[]): Transition {
  patch.runAt = runAt;
  patch.lease = null;
  return { state: pendingState(runAt, now), patch, requeued: true, releasesDedup: false, retention: null, events };
}

export function settled(state: JobState, now: number, patch: JobPatch, retention: RetentionRule | null, events: ConveyorEventData[]): Transition {
  patch.lease = null;
  patch.finishedAt = now;
  return { state, patch, requeued: false, releasesDedup: true, retention, events };
}

/** Enqueued: the event a new job (or one released or retried) announces. */
export function enqueuedEvent(job: Pick<Job, "queue" | "id" | "name" | "priority">, runAt: number, now: number): ConveyorEventData {
  return { type: "enqueued", queue: job.queue, at: now, jobId: job.id, name: job.name, runAt, priority: job.priority };
}

/** A waiting job handed to a worker under a fresh lease. */
export function claim(job: Job, workerId: string, token: string, leaseExpiresAt: number, now: number): Transition {
  return {
    state: "active",
    patch: { startedAt: now, lease: { token, workerId, expiresAt: leaseExpiresAt } },
    requeued: false,
    releasesDedup: false,
    retention: null,
    events: [{ type: "active", queue: job.queue, at: now, jobId: job.id, name: job.name, attempt: job.attemptsMade + 1, workerId }],
  };
}

/** A final failure (the job's attempts made so far given): into the dead-letter store when the job asks for it, else `failed`. */
export function finalFailure(job: Job, attemptsMade: number, reason: DeadLetterInfo["reason"], patch: JobPatch, now: number, events: ConveyorEventData[]): Transition {
  if (!job.deadLetter) return settled("failed", now, patch, job.removeOnFail, events);
  const dead: DeadLetterInfo = { reason, at: now, attempts: attemptsMade, queue: job.queue, error: patch.lastError ?? job.lastError };
  patch.dead = dead;
  events.push({ type: "dead", queue: job.queue, at: now, jobId: job.id, name: job.name, deadLetter: dead });
  // The dead-letter store is kept until cleaned or retried: no retention rule trims it.
  return settled("dead", now, patch, null, events);
}

/** How an attempt ended, as its lease holder reported it. */
export function recordOutcome(job: Job, outcome: Outcome, now: number): Transition {
  const attemptsMade = job.attemptsMade + 1;
  if (outcome.kind === "completed") {
    const events: ConveyorEventData[] = [{
      type: "completed", queue: job.queue, at: now, jobId: job.id, name: job.name, attempt: attemptsMade, result: outcome.result, durationMs: now - (job.startedAt ?? now),
    }];
    return settled("completed", now, { attemptsMade, result: outcome.result }, job.removeOnComplete, events);
  }
  const final = outcome.retryAt === null;
  const events: ConveyorEventData[] = [{ type: "failed", queue: job.queue, at: now, jobId: job.id, name: job.name, attempt: attemptsMade, error: outcome.error, final }];
  const patch: JobPatch = { attemptsMade, lastError: outcome.error };
  if (outcome.retryAt === null) return finalFailure(job, attemptsMade, outcome.reason ?? "attempts-exhausted", patch, now, events);
  events.push({ type: "retrying", queue: job.queue, at: now, jobId: job.id, name: job.name, attempt: attemptsMade + 1, retryAt: outcome.retryAt });
  return requeue(outcome.retryAt, now, patch, events);
}

/** An active job whose lease ran out: run again, or failed for good once it stalled too often. */
export function stall(job: Job, maxStalls: number, now: number): Transition {
  const stalls = job.stalls + 1;
  const requeued = stalls <= maxStalls;
  const events: ConveyorEventData[] = [{ type: "stalled", queue: job.queue, at: now, jobId: job.id, name: job.name, stalls, requeued }];
  if (requeued) return requeue(now, now, { stalls }, events);
  const attemptsMade = job.attemptsMade + 1;
  const lastError = { name: "ConveyorError", code: "STALLED", message: `job stalled ${stalls} times` };
  return finalFailure(job, attemptsMade, "stalled", { stalls, attemptsMade, lastError }, now, events);
}

/** An active job its worker gives back unrun (shutting down, over a rate limit): no attempt spent. */
export function release(job: Job, runAt: number, now: number): Transition {
  return requeue(runAt, now, {}, [enqueuedEvent(job, runAt, now)]);
}

/** A pending job stopped by hand; a finished one cannot be. */
export function cancel(job: Job, now: number, by: string | null): Transition | Refusal {
  if (!PENDING_STATES.has(job.state)) return "finished";
  const patch: JobPatch = by === null ? {} : { changedBy: { action: "cancel", by, at: now } satisfies JobChange };
  const events: ConveyorEventData[] = [{ type: "cancelled", queue: job.queue, at: now, jobId: job.id, name: job.name, previous: job.state }];
  return settled("cancelled", now, patch, job.removeOnFail, events);
}

/**
 * A failed, dead or cancelled job sent back with a fresh set of attempts. `dedupTaken` says
 * whether another pending job holds its dedup key now.
 */
export function retry(job: Job, now: number, by: string | null, dedupTaken: boolean): Transition | Refusal {
  if (job.state !== "failed" && job.state !== "dead" && job.state !== "cancelled") return "not-retryable";
  if (job.dedupKey !== null && dedupTaken) return "dedup-taken";
  const patch: JobPatch = { attemptsMade: 0, stalls: 0, dead: null, finishedAt: null };
  if (by !== null) patch.changedBy = { action: "retry", by, at: now };
  return requeue(now, now, patch, [enqueuedEvent(job, now, now)]);
}

/** Deleted by hand: any job no worker holds. */
export function remove(job: Job, now: number): ConveyorEventData | Refusal {
  if (job.state === "active") return "active";
  return { type: "removed", queue: job.queue, at: now, jobId: job.id, name: job.name };
}

/**
 * Retention: whether the oldest job of a finished state goes, given the rule of the job that
 * just entered it, the state's size and the oldest job's finish time. Stores loop while it
 * says yes. Rules apply job by job in the order jobs finish, including within one batch.
 */
export function overRetention(rule: RetentionRule, size: number, oldestFinishedAt: number | null, now: number): boolean {
  if (rule.count !== null && size > rule.count) return true;
  return rule.ageMs !== null && (oldestFinishedAt ?? now) < now - rule.ageMs;
}

/** Applies a transition's patch to a job read from a store (for stores that write whole jobs). */
export function applied(job: Job, transition: Transition, seq: number): Job {
  return { ...job, ...transition.patch, state: transition.state, seq: transition.requeued ? seq : job.seq } as Job;
}

/** One retention rule to apply to one finished state, after a batch of transitions. */
export interface RetentionStep {
  readonly state: JobState;
  readonly rule: RetentionRule;
  /** Jobs of the batch that entered the same state after this one: not there yet when its rule applied. */
  readonly newer: number;
}

/**
 * For stores that trim after committing a whole batch: the rules a batch calls for, in the
 * order its jobs finished, so the result is what the outcomes one by one would leave (each
 * rule trims the state as it was when its job entered). Of a run of equal rules for one
 * state only the last is kept: it trims everything the earlier ones would.
 */
export function retentionSteps(transitions: readonly (Transition | null)[]): RetentionStep[] {
  // Backwards, so each job knows how many of the batch enter its state after it, and which
  // rule the next of them brings.
  const later = new Map<JobState, { count: number; rule: RetentionRule }>();
  const steps: RetentionStep[] = [];
  for (let i = transitions.length - 1; i >= 0; i--) {
    const transition = transitions[i];
    if (!transition?.retention) continue;
    const next = later.get(transition.state);
    if (!next || !sameRule(next.rule, transition.retention)) {
      steps.push({ state: transition.state, rule: transition.retention, newer: next?.count ?? 0 });
    }
    later.set(transition.state, { count: (next?.count ?? 0) + 1, rule: transition.retention });
  }
  return steps.reverse();
}

const sameRule = (a: RetentionRule, b: RetentionRule) => a.count === b.count && a.ageMs === b.ageMs;
