import type { AuditEntry, NewAuditEntry } from "./audit-entry.ts";
import type { ConveyorEventData, ConveyorEventType } from "./events.ts";
import type { ErrorInfo } from "./errors.ts";
import type { DeadLetterInfo, Job, JobCounts, JobState, NewJob } from "./job.ts";
import type { EnqueueFlowRequest } from "./workflow.ts";

/**
 * What a backend promises. The core reads these to refuse setups that cannot be safe, rather
 * than tests or users guessing from the backend's name.
 */
export interface StoreCapabilities {
  /** Several processes may claim from the same queue without running a job twice under a valid lease. */
  readonly sharedAcrossProcesses: boolean;
  /** Jobs survive a restart of the process (and of the backend, as far as it persists). */
  readonly durable: boolean;
  /** A read sees every write that finished before it (false for eventually consistent KV). */
  readonly consistent: boolean;
}

export interface EnqueueResult {
  readonly job: Job;
  /** False when an existing job was returned (same `jobId`, or same pending `dedupKey`). */
  readonly created: boolean;
}

export interface EnqueueRequest {
  readonly jobs: readonly NewJob[];
  readonly now: number;
}

export interface ClaimRequest {
  readonly workerId: string;
  /** Claim at most this many due jobs. */
  readonly limit: number;
  readonly leaseMs: number;
  readonly now: number;
}

export interface ClaimResult {
  /** Claimed jobs, highest priority first, FIFO within a priority; each holds a fresh lease. */
  readonly jobs: readonly Job[];
  /** Earliest `runAt` among delayed jobs still not due, so the caller can sleep until then. */
  readonly nextDueAt: number | null;
}

/** How one attempt ended, as the worker reports it. */
export type Outcome =
  | { readonly id: string; readonly token: string; readonly kind: "completed"; readonly result: unknown }
  | {
    readonly id: string;
    readonly token: string;
    readonly kind: "failed";
    readonly error: ErrorInfo;
    /** When to try again; `null` makes this failure final. */
    readonly retryAt: number | null;
    /** Why a final failure happened (for the dead-letter record). @default "attempts-exhausted" */
    readonly reason?: DeadLetterInfo["reason"];
  };

export interface FinishRequest {
  readonly outcomes: readonly Outcome[];
  readonly now: number;
  /** Claim next jobs in the same call, as `claim` would (one round trip per batch). */
  readonly claim?: Omit<ClaimRequest, "now">;
}

export interface FinishResult {
  /** Per outcome, the state the job is now in, or null when its token no longer held it. */
  readonly finished: readonly (JobState | null)[];
  /** Present when `claim` was asked for. */
  readonly claimed: ClaimResult | undefined;
}

/** Why a retry was or was not made. */
export type RetryResult =
  | { readonly status: "retried"; readonly job: Job }
  | { readonly status: "not-found" }
  /** Only failed, dead or cancelled jobs retry. */
  | { readonly status: "not-retryable"; readonly state: JobState }
  /** Another pending job holds the job's dedup key: retrying would make two. */
  | { readonly status: "dedup-taken" };

export type RemoveResult =
  | { readonly status: "removed" }
  | { readonly status: "not-found" }
  /** A worker holds the job: cancel it first. */
  | { readonly status: "active" };

export type CancelResult =
  | { readonly status: "cancelled"; readonly previous: JobState }
  | { readonly status: "finished"; readonly state: JobState }
  | { readonly status: "not-found" };

export interface StalledResult {
  /** Jobs whose lease expired and that are waiting again. */
  readonly requeued: readonly Job[];
  /** Jobs that stalled more than `maxStalls` times and were finished as failures. */
  readonly failed: readonly Job[];
}

export interface ListRequest {
  readonly offset: number;
  readonly limit: number;
}

/** A job held under a lease: the token `claim` handed out fences every call below. */
export interface LeaseRef {
  readonly id: string;
  readonly token: string;
}

export interface ExtendLeasesRequest {
  readonly leases: readonly LeaseRef[];
  readonly leaseMs: number;
  readonly now: number;
}

export interface ReleaseRequest extends LeaseRef {
  readonly now: number;
  /** Delay the job until then instead of making it waiting (a worker over its rate limit). */
  readonly runAt?: number;
}

export interface ProgressRequest extends LeaseRef {
  readonly progress: unknown;
  readonly now: number;
}

export interface StepRequest extends LeaseRef {
  /** The step's name, unique within the job. */
  readonly step: string;
  /** Its result (any job data); stored on the job under `steps[step]`. */
  readonly value: unknown;
  readonly now: number;
}

export interface LogRequest extends LeaseRef {
  readonly line: string;
}

export interface StalledRequest {
  readonly now: number;
  /** Stalls a job may have before the next one fails it. */
  readonly maxStalls: number;
}

export interface JobRequest {
  readonly id: string;
  readonly now: number;
}

/** A change made by someone (cancel, retry): `by`, when given, is recorded on the job as `changedBy`. */
export interface ChangeRequest extends JobRequest {
  readonly by?: string | null;
}

export interface CleanRequest {
  /** A finished state: completed, failed, dead or cancelled. */
  readonly state: JobState;
  /** Only jobs that finished at or before this time. */
  readonly cutoff: number;
  readonly limit: number;
}

export interface PauseRequest {
  readonly paused: boolean;
  readonly now: number;
}

/**
 * A page of the audit log, newest first. `from` and `to` bound the cursors' time (an entry's
 * `at`, or later: see core/audit-cursor.ts), both inclusive.
 */
export interface AuditListRequest {
  /** Entries with a cursor below this one: the next page back. Not together with `after`. */
  readonly before?: string;
  /** Entries with a cursor above this one, the `limit` closest to it (the next page forward), still newest first. */
  readonly after?: string;
  readonly limit: number;
  readonly from?: number;
  readonly to?: number;
}

/** What `trimAudit` deletes: both rules apply when both are given. */
export interface AuditTrimRequest {
  /** Entries whose cursor time is before this (epoch ms). */
  readonly olderThan?: number;
  /** All but the newest `keep` entries. */
  readonly keep?: number;
}

export type StoreEventListener = (event: ConveyorEventData) => void;

/** A live subscription: `ready` settles once events are flowing (at once for in-process stores). */
export interface Subscription {
  readonly ready: Promise<void>;
  close(): void;
}

/**
 * The atomic queue transitions every backend implements. Each method is one transition:
 * either all of it happens or none of it does, and concurrent callers (workers in other
 * processes, for backends that declare `sharedAcrossProcesses`) never interleave inside it.
 *
 * Fencing: `claim` hands out a lease token per job; a transition that names a token fails
 * (returns null/false) unless that token still holds the job. This is how a worker that lost a
 * job (cancelled, or stalled and re-run elsewhere) is kept from finishing it.
 *
 * Events: each transition publishes the lifecycle events it causes to the queue's subscribers
 * once its state change is in place.
 */
export interface QueueStore {
  readonly capabilities: StoreCapabilities;

  /** Adds jobs in order; `runAt <= now` makes a job waiting, later makes it delayed. */
  enqueue(queue: string, request: EnqueueRequest): Promise<EnqueueResult[]>;
  /**
   * Adds a flow's jobs (any queues) in one atomic step, parents before children: a job with
   * children enters `waiting-children` and waits for them; the rest are waiting or delayed.
   * Ids are the store's own (flow nodes carry no `jobId` or `dedupKey`). Returns the jobs in
   * the order given.
   *
   * Workflow effects: whenever a transition finishes a job that has a `flow` (completed, final
   * failure, stall, cancel, remove), the store applies `aftermath(job)` from
   * core/workflow-rules.ts in the same atomic step: the next chain step is enqueued, the parent
   * settled (`settleChild`), a failed parent's children cancelled, and so on until nothing is left.
   */
  enqueueFlow(request: EnqueueFlowRequest): Promise<Job[]>;
  /** Promotes due delayed jobs, then claims waiting ones unless the queue is paused. */
  claim(queue: string, request: ClaimRequest): Promise<ClaimResult>;
  /** Renews leases; returns the ids whose lease was no longer held by the given token. */
  extendLeases(queue: string, request: ExtendLeasesRequest): Promise<string[]>;
  /**
   * Records attempt outcomes in order (completed; failed with a retry; failed for good into
   * the dead-letter store or `failed`), then optionally claims. Outcomes whose token no longer
   * holds the job are skipped. Batching is how workers keep up with cheap jobs.
   */
  finish(queue: string, request: FinishRequest): Promise<FinishResult>;
  /**
   * Gives an active job back without spending an attempt: to waiting (a worker shutting down),
   * or delayed until `runAt` (a worker over its rate limit). False when the token no longer holds it.
   */
  release(queue: string, request: ReleaseRequest): Promise<boolean>;
  /** False when the token no longer holds the job. */
  setProgress(queue: string, request: ProgressRequest): Promise<boolean>;
  /** False when the token no longer holds the job. */
  appendLog(queue: string, request: LogRequest): Promise<boolean>;
  /** Records a durable step's result on the job; false when the token no longer holds the job. */
  saveStep(queue: string, request: StepRequest): Promise<boolean>;
  /** Finds active jobs whose lease expired: requeues them, or fails those stalled too often. */
  recoverStalled(queue: string, request: StalledRequest): Promise<StalledResult>;

  cancel(queue: string, request: ChangeRequest): Promise<CancelResult>;
  /** Sends a failed, dead or cancelled job back to waiting with a fresh set of attempts. */
  retry(queue: string, request: ChangeRequest): Promise<RetryResult>;
  /** Deletes a job that is not active. */
  remove(queue: string, request: JobRequest): Promise<RemoveResult>;
  /** Deletes up to `limit` jobs of one finished state that finished at or before `cutoff`, oldest first. */
  clean(queue: string, request: CleanRequest): Promise<number>;

  get(queue: string, id: string): Promise<Job | null>;
  /**
   * Jobs in one state: waiting in claim order, delayed by due time, active by start time, and
   * finished states newest first.
   */
  list(queue: string, state: JobState, request: ListRequest): Promise<Job[]>;
  counts(queue: string): Promise<JobCounts>;
  setPaused(queue: string, request: PauseRequest): Promise<void>;
  isPaused(queue: string): Promise<boolean>;

  /**
   * Small JSON records kept beside the queues (schedules and their state), by namespace and
   * key. Each write replaces the whole record; nothing here is a queue transition.
   */
  getRecord<T = unknown>(namespace: string, key: string): Promise<T | null>;
  putRecord(namespace: string, key: string, value: unknown): Promise<void>;
  deleteRecord(namespace: string, key: string): Promise<boolean>;
  /** Every record of a namespace, in key order. */
  listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]>;
  /**
   * Compare-and-set: writes `value` only if the record still is `expected` (`null`: only if there
   * is none), atomically for every process sharing the store, and says whether it wrote. Records
   * are compared as JSON text, so pass `expected` as `getRecord` returned it. This is how nodes
   * change a shared record without losing each other's updates: read, change, swap, and on
   * `false` read again.
   */
  compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean>;

  /**
   * The audit log: append-only entries beside the queues and apart from them (no job's
   * retention touches them). `appendAudit` stores entries in the order given and returns the
   * cursor it gave each: formed as core/audit-cursor.ts's `nextCursor` says, from the greatest
   * cursor the log has ever held (trimmed ones included), so every cursor is greater than every
   * one before it, across all processes sharing the store. Nothing else changes an entry.
   */
  appendAudit(entries: readonly NewAuditEntry[]): Promise<string[]>;
  /** Up to `limit` entries, newest (greatest cursor) first. */
  listAudit(request: AuditListRequest): Promise<AuditEntry[]>;
  /** Deletes the oldest entries the request names; returns how many. */
  trimAudit(request: AuditTrimRequest): Promise<number>;

  /** Publishes an event that is not a store transition (a worker's `drained`). */
  publish(queue: string, event: ConveyorEventData): void;
  /**
   * Receives this queue's events from every process sharing the store; only the listed types
   * when `types` is given, so the store can skip building events nobody wants.
   */
  subscribe(queue: string, listener: StoreEventListener, types?: readonly ConveyorEventType[]): Subscription;
  close(): Promise<void>;
}
