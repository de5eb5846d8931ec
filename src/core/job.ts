import type { ErrorInfo } from "./errors.ts";

/** Every state a job can be in. `paused` is not a state: it counts waiting jobs of a paused queue. */
export type JobState = "waiting" | "delayed" | "active" | "waiting-children" | "completed" | "failed" | "dead" | "cancelled";

export const JOB_STATES: readonly JobState[] = Object.freeze([
  "waiting", "delayed", "active", "waiting-children", "completed", "failed", "dead", "cancelled",
]);

/** Counts per state, plus `paused`: waiting jobs held back because the queue is paused. */
export type JobCounts = Record<JobState | "paused", number>;

/** How many finished jobs to keep; `null` means no limit on that axis. */
export interface RetentionRule {
  readonly count: number | null;
  readonly ageMs: number | null;
}

/** Stored form of a backoff: `custom` defers to the function on the job definition. */
export type StoredBackoff =
  | { readonly type: "fixed"; readonly delayMs: number }
  | {
    readonly type: "exponential";
    readonly delayMs: number;
    readonly maxDelayMs: number | null;
    readonly jitter: number;
  }
  | { readonly type: "custom" };

/** Why and when a job entered the dead-letter store. */
export interface DeadLetterInfo {
  readonly reason: "attempts-exhausted" | "stalled" | "unrecoverable" | "child-failed";
  readonly at: number;
  readonly attempts: number;
  readonly queue: string;
  readonly error: ErrorInfo | null;
}

/** The last hand-made change to a job, and who made it (the caller's id, e.g. a JWT subject). */
export interface JobChange {
  readonly action: "cancel" | "retry";
  readonly by: string;
  readonly at: number;
}

/** The holder of an active job; only the holder of `token` may finish it. */
export interface Lease {
  readonly token: string;
  readonly workerId: string;
  /**
   * When the lease runs out, in the clock the store times leases by: the callers' clock for
   * most stores, the Redis server's own clock for `RedisStore` (`leaseClock: "server"`).
   */
  readonly expiresAt: number;
}

/**
 * A job as the store keeps it: plain data that survives serialisation. Stores hand out
 * copies; the core never mutates a record it was given.
 */
export interface Job<Payload = unknown, Result = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  readonly payload: Payload;
  readonly state: JobState;
  /** Lower runs first. */
  readonly priority: number;
  /** Position within its priority: a store-wide counter, renewed each time the job re-enters waiting. */
  readonly seq: number;
  readonly createdAt: number;
  /** When the job is (or was) due to run. */
  readonly runAt: number;
  /** Attempts that ended, successfully or not. */
  readonly attemptsMade: number;
  readonly maxAttempts: number;
  readonly backoff: StoredBackoff;
  readonly timeoutMs: number | null;
  /** Pending-job deduplication key; released once the job finishes. */
  readonly dedupKey: string | null;
  readonly progress: unknown;
  readonly logs: readonly string[];
  readonly result: Result | undefined;
  readonly lastError: ErrorInfo | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly lease: Lease | null;
  /** Times a worker lost this job (crash, lease expiry) while running it. */
  readonly stalls: number;
  readonly removeOnComplete: RetentionRule;
  readonly removeOnFail: RetentionRule;
  /** Final failures go to the dead-letter store (`dead`) rather than `failed`. */
  readonly deadLetter: boolean;
  readonly dead: DeadLetterInfo | null;
  /** Who enqueued the job, when the producer said (`add(…, { createdBy })`; the HTTP app gives the token's subject). */
  readonly createdBy: string | null;
  /** The last cancel or retry made with `{ by }`. */
  readonly changedBy: JobChange | null;
  /**
   * Results of the durable steps that finished (`ctx.step(name, fn)`), by step name. They outlive
   * the attempt: a retry, or another worker taking over after a crash, skips them.
   */
  readonly steps: Readonly<Record<string, unknown>>;
  /** Its place in a chain, flow or batch (see workflow.ts); null for a job on its own. */
  readonly flow: JobFlow | null;
}

/** A job as `add` returns it: `duplicate` is true when an existing job was returned instead. */
export type EnqueuedJob<P = unknown> = Job<P> & { readonly duplicate: boolean };

/** A job's steps with one more (or one replaced); `"__proto__"` stays a step name, as data. */
export function withStep(steps: Readonly<Record<string, unknown>> | undefined, step: string, value: unknown): Record<string, unknown> {
  const next: Record<string, unknown> = { ...steps };
  Object.defineProperty(next, step, { value, writable: true, enumerable: true, configurable: true });
  return next;
}

/** The steps of a job that has none yet: one shared, frozen object (a job's steps are replaced, never changed). */
export const NO_STEPS: Readonly<Record<string, unknown>> = Object.freeze({});

/** What a producer hands the store; the store assigns id (unless given), seq and state. */
export interface NewJob {
  readonly id: string | null;
  readonly name: string;
  readonly payload: unknown;
  readonly priority: number;
  readonly createdAt: number;
  readonly runAt: number;
  readonly maxAttempts: number;
  readonly backoff: StoredBackoff;
  readonly timeoutMs: number | null;
  readonly dedupKey: string | null;
  readonly removeOnComplete: RetentionRule;
  readonly removeOnFail: RetentionRule;
  readonly deadLetter: boolean;
  readonly createdBy: string | null;
  /** A chain's rest, or a flow's links (a parent enters `waiting-children`); absent for a job on its own. */
  readonly flow?: JobFlow | null;
}

export const PENDING_STATES: ReadonlySet<JobState> = new Set(["waiting", "delayed", "active", "waiting-children"]);
export const FINISHED_STATES: ReadonlySet<JobState> = new Set(["completed", "failed", "dead", "cancelled"]);

/**
 * A job as it is on entering the store: nothing run yet. Built field by field, since spreading
 * `input` and overriding keys falls onto a slow V8 path on the hot enqueue path.
 */
export function initialJob(input: NewJob, id: string, queue: string, seq: number, state: JobState, payload: unknown): Job {
  return {
    id,
    queue,
    name: input.name,
    payload,
    state,
    priority: input.priority,
    seq,
    createdAt: input.createdAt,
    runAt: input.runAt,
    attemptsMade: 0,
    maxAttempts: input.maxAttempts,
    backoff: input.backoff,
    timeoutMs: input.timeoutMs,
    dedupKey: input.dedupKey,
    progress: null,
    logs: [],
    result: undefined,
    lastError: null,
    startedAt: null,
    finishedAt: null,
    lease: null,
    stalls: 0,
    removeOnComplete: input.removeOnComplete,
    removeOnFail: input.removeOnFail,
    deadLetter: input.deadLetter,
    dead: null,
    createdBy: input.createdBy,
    changedBy: null,
    steps: NO_STEPS,
    flow: input.flow ?? null,
  };
}

// Workflows: how jobs wait for each other (chains, flows, batches). The rules are in workflow-rules.ts.

/** A job somewhere in the store. */
export interface JobRef {
  readonly queue: string;
  readonly id: string;
}

/** What a failed child does to its parent: fail it at once, be left out of its results, or be reported in them. */
export type ChildFailurePolicy = "fail" | "ignore" | "continue";

/** A chain step not enqueued yet: the job as the producer built it, less its times. */
export interface ChainStep {
  readonly queue: string;
  readonly job: Omit<NewJob, "id" | "createdAt" | "runAt" | "flow" | "payload"> & { readonly payload: unknown };
  /** Due this long after the step before ends. */
  readonly delayMs: number;
  /**
   * True when the payload is what the step before left: its result (a `then` step), its error
   * (`catch`), or its outcome `{ state, result | error }` (`finally`).
   */
  readonly inherit: boolean;
}

/** What runs after a job: the rest of its chain. */
export interface ChainRest {
  readonly then: readonly ChainStep[];
  readonly catch: ChainStep | null;
  readonly finally: ChainStep | null;
}

/** What the chain step before a job left it. */
export interface PreviousStep extends JobRef {
  readonly name: string;
  readonly state: "completed" | "failed" | "dead";
  readonly result?: unknown;
  readonly error?: ErrorInfo | null;
}

/** How one child of a parent ended, as the parent sees it. */
export interface ChildOutcome extends JobRef {
  readonly name: string;
  readonly state: JobState;
  readonly result?: unknown;
  readonly error?: ErrorInfo | null;
}

/** A parent's children: who they are and how far they got. */
export interface Family {
  readonly children: readonly JobRef[];
  /** Children not finished yet. */
  readonly pending: number;
  /** Children that ended failed, dead or cancelled. */
  readonly failed: number;
  /** How each finished child ended, in the order they finished (failures of `ignore` children left out). */
  readonly outcomes: readonly ChildOutcome[];
  /** A batch: the parent has no handler and ends by itself once its children have. */
  readonly batch: boolean;
}

/** A child's link to its parent. */
export interface ParentLink extends JobRef {
  readonly onFailure: ChildFailurePolicy;
}

/** Everything a job knows of the jobs around it; `null` on a job outside any workflow. */
export interface JobFlow {
  readonly chain: ChainRest | null;
  readonly previous: PreviousStep | null;
  readonly parent: ParentLink | null;
  readonly family: Family | null;
}

