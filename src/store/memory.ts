import type { ConveyorEventData } from "../core/events.ts";
import {
  type DeadLetterInfo,
  FINISHED_STATES,
  type Job,
  type JobCounts,
  type JobState,
  JOB_STATES,
  type NewJob,
  PENDING_STATES,
  type RetentionRule,
} from "../core/job.ts";
import { cloneData } from "../util/clone.ts";
import { Heap } from "../util/heap.ts";
import type {
  CancelResult,
  ClaimRequest,
  ClaimResult,
  EnqueueResult,
  FailRequest,
  ListRequest,
  QueueStore,
  StalledResult,
  StoreCapabilities,
  StoreEventListener,
} from "./contract.ts";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type JobRecord = Mutable<Job> & { logs: string[] };

/** A heap entry is current only while its job still has the state and seq it was pushed with. */
interface Entry {
  readonly job: JobRecord;
  readonly seq: number;
}

const byPriority = (a: Entry, b: Entry) =>
  a.job.priority < b.job.priority || (a.job.priority === b.job.priority && a.seq < b.seq);
const byDueTime = (a: Entry, b: Entry) =>
  a.job.runAt < b.job.runAt || (a.job.runAt === b.job.runAt && a.seq < b.seq);

class QueueData {
  readonly jobs = new Map<string, JobRecord>();
  readonly waiting = new Heap<Entry>(byPriority);
  readonly delayed = new Heap<Entry>(byDueTime);
  /** Ids per state, in the order they entered it (oldest first). */
  readonly byState = new Map<JobState, Set<string>>(JOB_STATES.map((s) => [s, new Set<string>()]));
  readonly dedup = new Map<string, string>();
  readonly listeners = new Set<StoreEventListener>();
  paused = false;
  nextId = 0;
}

const EMPTY_LOGS: readonly string[] = Object.freeze([]);

/**
 * Records are built field by field: spreading one object into another and overriding keys
 * drops V8 (Node 20) onto a slow path that cost ~40 µs per job.
 */
function copy(job: JobRecord): Job {
  return {
    id: job.id,
    queue: job.queue,
    name: job.name,
    payload: cloneData(job.payload),
    state: job.state,
    priority: job.priority,
    seq: job.seq,
    createdAt: job.createdAt,
    runAt: job.runAt,
    attemptsMade: job.attemptsMade,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    dedupKey: job.dedupKey,
    progress: cloneData(job.progress),
    logs: job.logs.length === 0 ? EMPTY_LOGS : job.logs.slice(),
    result: cloneData(job.result),
    lastError: job.lastError,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    lease: job.lease,
    stalls: job.stalls,
    removeOnComplete: job.removeOnComplete,
    removeOnFail: job.removeOnFail,
    deadLetter: job.deadLetter,
    dead: job.dead,
  };
}

function newRecord(input: NewJob, id: string, queue: string): JobRecord {
  return {
    id,
    queue,
    name: input.name,
    payload: cloneData(input.payload),
    state: "waiting",
    priority: input.priority,
    seq: 0,
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
  };
}

/**
 * The default backend: every queue in this process's memory. Fast and exact, but gone with
 * the process, and only workers in this process can share it.
 */
export class MemoryStore implements QueueStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    sharedAcrossProcesses: false,
    durable: false,
    consistent: true,
  });

  #queues = new Map<string, QueueData>();
  #seq = 0;
  #leases = 0;

  #queue(name: string): QueueData {
    let data = this.#queues.get(name);
    if (!data) this.#queues.set(name, data = new QueueData());
    return data;
  }

  async enqueue(queue: string, jobs: readonly NewJob[], now: number): Promise<EnqueueResult[]> {
    const q = this.#queue(queue);
    const results: EnqueueResult[] = [];
    const events: ConveyorEventData[] = [];
    for (const input of jobs) {
      const existingId = input.id !== null && q.jobs.has(input.id)
        ? input.id
        : input.dedupKey !== null
        ? q.dedup.get(input.dedupKey)
        : undefined;
      const existing = existingId === undefined ? undefined : q.jobs.get(existingId);
      if (existing) {
        results.push({ job: copy(existing), created: false });
        continue;
      }
      const job = newRecord(input, input.id ?? String(++q.nextId), queue);
      q.jobs.set(job.id, job);
      if (job.dedupKey !== null) q.dedup.set(job.dedupKey, job.id);
      this.#schedule(q, job, now);
      results.push({ job: copy(job), created: true });
      if (q.listeners.size) {
        events.push({ type: "enqueued", queue, at: now, jobId: job.id, name: job.name, runAt: job.runAt, priority: job.priority });
      }
    }
    this.#deliver(q, events);
    return results;
  }

  async claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    const q = this.#queue(queue);
    const { now } = request;
    this.#promoteDue(q, now);
    const jobs: Job[] = [];
    const events: ConveyorEventData[] = [];
    while (!q.paused && jobs.length < request.limit) {
      const entry = q.waiting.pop();
      if (!entry) break;
      const job = entry.job;
      if (job.state !== "waiting" || job.seq !== entry.seq) continue;
      this.#move(q, job, "active");
      job.startedAt = now;
      job.lease = { token: String(++this.#leases), workerId: request.workerId, expiresAt: now + request.leaseMs };
      jobs.push(copy(job));
      if (q.listeners.size) {
        events.push({
          type: "active", queue, at: now, jobId: job.id, name: job.name,
          attempt: job.attemptsMade + 1, workerId: request.workerId,
        });
      }
    }
    this.#deliver(q, events);
    return { jobs, nextDueAt: this.#nextDueAt(q) };
  }

  async extendLeases(
    queue: string,
    leases: readonly { id: string; token: string }[],
    leaseMs: number,
    now: number,
  ): Promise<string[]> {
    const q = this.#queue(queue);
    const lost: string[] = [];
    for (const { id, token } of leases) {
      const job = this.#held(q, id, token);
      if (job) job.lease = { token, workerId: job.lease!.workerId, expiresAt: now + leaseMs };
      else lost.push(id);
    }
    return lost;
  }

  async complete(queue: string, id: string, token: string, result: unknown, now: number): Promise<Job | null> {
    const q = this.#queue(queue);
    const job = this.#held(q, id, token);
    if (!job) return null;
    job.attemptsMade++;
    job.result = cloneData(result);
    this.#finish(q, job, "completed", now);
    const snapshot = copy(job);
    this.#applyRetention(q, "completed", job.removeOnComplete, now);
    this.#deliver(q, [{
      type: "completed", queue, at: now, jobId: id, name: job.name, attempt: job.attemptsMade, result,
      durationMs: now - (job.startedAt ?? now),
    }]);
    return snapshot;
  }

  async fail(queue: string, id: string, token: string, request: FailRequest): Promise<Job | null> {
    const q = this.#queue(queue);
    const job = this.#held(q, id, token);
    if (!job) return null;
    const { now, error, retryAt } = request;
    job.attemptsMade++;
    job.lastError = error;
    job.lease = null;
    const base = { queue, at: now, jobId: id, name: job.name };
    const events: ConveyorEventData[] = [
      { ...base, type: "failed", attempt: job.attemptsMade, error, final: retryAt === null },
    ];
    if (retryAt !== null) {
      job.runAt = retryAt;
      this.#schedule(q, job, now);
      events.push({ ...base, type: "retrying", attempt: job.attemptsMade + 1, retryAt });
    } else {
      events.push(...this.#finalFailure(q, job, request.reason ?? "attempts-exhausted", now));
    }
    const snapshot = copy(job);
    this.#deliver(q, events);
    return snapshot;
  }

  async release(queue: string, id: string, token: string, now: number): Promise<boolean> {
    const q = this.#queue(queue);
    const job = this.#held(q, id, token);
    if (!job) return false;
    job.lease = null;
    job.runAt = now;
    this.#schedule(q, job, now);
    this.#deliver(q, [{ type: "enqueued", queue, at: now, jobId: id, name: job.name, runAt: now, priority: job.priority }]);
    return true;
  }

  async setProgress(queue: string, id: string, token: string, progress: unknown, now: number): Promise<boolean> {
    const q = this.#queue(queue);
    const job = this.#held(q, id, token);
    if (!job) return false;
    job.progress = cloneData(progress);
    this.#deliver(q, [{ type: "progress", queue, at: now, jobId: id, name: job.name, progress }]);
    return true;
  }

  async appendLog(queue: string, id: string, token: string, line: string): Promise<boolean> {
    const job = this.#held(this.#queue(queue), id, token);
    if (!job) return false;
    job.logs.push(line);
    return true;
  }

  async recoverStalled(queue: string, now: number, maxStalls: number): Promise<StalledResult> {
    const q = this.#queue(queue);
    const requeued: Job[] = [];
    const failed: Job[] = [];
    const events: ConveyorEventData[] = [];
    for (const id of [...q.byState.get("active")!]) {
      const job = q.jobs.get(id)!;
      if (!job.lease || job.lease.expiresAt > now) continue;
      job.stalls++;
      job.lease = null;
      const requeue = job.stalls <= maxStalls;
      events.push({ type: "stalled", queue, at: now, jobId: id, name: job.name, stalls: job.stalls, requeued: requeue });
      if (requeue) {
        job.runAt = now;
        this.#schedule(q, job, now);
        requeued.push(copy(job));
      } else {
        job.attemptsMade++;
        job.lastError = { name: "ConveyorError", code: "STALLED", message: `job stalled ${job.stalls} times` };
        events.push(...this.#finalFailure(q, job, "stalled", now));
        failed.push(copy(job));
      }
    }
    this.#deliver(q, events);
    return { requeued, failed };
  }

  async cancel(queue: string, id: string, now: number): Promise<CancelResult> {
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job) return { status: "not-found" };
    if (!PENDING_STATES.has(job.state)) return { status: "finished", state: job.state };
    const previous = job.state;
    job.lease = null;
    this.#finish(q, job, "cancelled", now);
    this.#compact(q);
    this.#applyRetention(q, "cancelled", job.removeOnFail, now);
    this.#deliver(q, [{ type: "cancelled", queue, at: now, jobId: id, name: job.name, previous }]);
    return { status: "cancelled", previous };
  }

  async retry(queue: string, id: string, now: number): Promise<Job | null> {
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job || !(job.state === "failed" || job.state === "dead" || job.state === "cancelled")) return null;
    if (job.dedupKey !== null) {
      if (q.dedup.has(job.dedupKey)) return null;
      q.dedup.set(job.dedupKey, id);
    }
    job.attemptsMade = 0;
    job.stalls = 0;
    job.dead = null;
    job.finishedAt = null;
    job.runAt = now;
    this.#schedule(q, job, now);
    this.#deliver(q, [{ type: "enqueued", queue, at: now, jobId: id, name: job.name, runAt: now, priority: job.priority }]);
    return copy(job);
  }

  async remove(queue: string, id: string, now: number): Promise<boolean> {
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job || job.state === "active") return false;
    this.#delete(q, job);
    this.#deliver(q, [{ type: "removed", queue, at: now, jobId: id, name: job.name }]);
    return true;
  }

  async clean(queue: string, state: JobState, cutoff: number, limit: number): Promise<number> {
    const q = this.#queue(queue);
    if (!FINISHED_STATES.has(state)) return 0;
    let removed = 0;
    for (const id of q.byState.get(state)!) {
      if (removed >= limit) break;
      const job = q.jobs.get(id)!;
      if ((job.finishedAt ?? 0) > cutoff) break;
      this.#delete(q, job);
      removed++;
    }
    return removed;
  }

  async get(queue: string, id: string): Promise<Job | null> {
    const job = this.#queues.get(queue)?.jobs.get(id);
    return job ? copy(job) : null;
  }

  async list(queue: string, state: JobState, { offset, limit }: ListRequest): Promise<Job[]> {
    const q = this.#queue(queue);
    let ids: string[];
    if (state === "waiting" || state === "delayed") {
      const heap = state === "waiting" ? q.waiting : q.delayed;
      ids = heap.sorted().filter((e) => e.job.state === state && e.job.seq === e.seq).map((e) => e.job.id);
    } else {
      ids = [...q.byState.get(state)!];
      if (FINISHED_STATES.has(state)) ids.reverse();
    }
    return ids.slice(offset, offset + limit).map((id) => copy(q.jobs.get(id)!));
  }

  async counts(queue: string): Promise<JobCounts> {
    const q = this.#queue(queue);
    const size = (s: JobState) => q.byState.get(s)!.size;
    const waiting = size("waiting");
    return {
      waiting: q.paused ? 0 : waiting,
      paused: q.paused ? waiting : 0,
      delayed: size("delayed"),
      active: size("active"),
      completed: size("completed"),
      failed: size("failed"),
      dead: size("dead"),
      cancelled: size("cancelled"),
    };
  }

  async setPaused(queue: string, paused: boolean, now: number): Promise<void> {
    const q = this.#queue(queue);
    if (q.paused === paused) return;
    q.paused = paused;
    this.#deliver(q, [{ type: paused ? "paused" : "resumed", queue, at: now }]);
  }

  async isPaused(queue: string): Promise<boolean> {
    return this.#queue(queue).paused;
  }

  publish(queue: string, event: ConveyorEventData): void {
    this.#deliver(this.#queue(queue), [event]);
  }

  subscribe(queue: string, listener: StoreEventListener): () => void {
    const q = this.#queue(queue);
    q.listeners.add(listener);
    return () => q.listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const q of this.#queues.values()) q.listeners.clear();
  }

  /** The job, if `token` still holds its lease. */
  #held(q: QueueData, id: string, token: string): JobRecord | undefined {
    const job = q.jobs.get(id);
    return job && job.state === "active" && job.lease?.token === token ? job : undefined;
  }

  /** Puts a job in waiting or delayed by its `runAt`, behind everything already there. */
  #schedule(q: QueueData, job: JobRecord, now: number): void {
    job.seq = ++this.#seq;
    if (job.runAt > now) {
      this.#move(q, job, "delayed");
      q.delayed.push({ job, seq: job.seq });
    } else {
      this.#move(q, job, "waiting");
      q.waiting.push({ job, seq: job.seq });
    }
  }

  #promoteDue(q: QueueData, now: number): void {
    for (;;) {
      const entry = q.delayed.peek();
      if (!entry) return;
      const current = entry.job.state === "delayed" && entry.job.seq === entry.seq;
      if (current && entry.job.runAt > now) return;
      q.delayed.pop();
      if (current) this.#schedule(q, entry.job, now);
    }
  }

  #nextDueAt(q: QueueData): number | null {
    for (;;) {
      const entry = q.delayed.peek();
      if (!entry) return null;
      if (entry.job.state === "delayed" && entry.job.seq === entry.seq) return entry.job.runAt;
      q.delayed.pop();
    }
  }

  #move(q: QueueData, job: JobRecord, state: JobState): void {
    q.byState.get(job.state)!.delete(job.id);
    q.byState.get(state)!.add(job.id);
    job.state = state;
  }

  #finish(q: QueueData, job: JobRecord, state: JobState, now: number): void {
    this.#move(q, job, state);
    job.lease = null;
    job.finishedAt = now;
    if (job.dedupKey !== null && q.dedup.get(job.dedupKey) === job.id) q.dedup.delete(job.dedupKey);
  }

  #finalFailure(q: QueueData, job: JobRecord, reason: DeadLetterInfo["reason"], now: number): ConveyorEventData[] {
    if (!job.deadLetter) {
      this.#finish(q, job, "failed", now);
      this.#applyRetention(q, "failed", job.removeOnFail, now);
      return [];
    }
    this.#finish(q, job, "dead", now);
    job.dead = { reason, at: now, attempts: job.attemptsMade, queue: job.queue, error: job.lastError };
    return [{ type: "dead", queue: job.queue, at: now, jobId: job.id, name: job.name, deadLetter: job.dead }];
  }

  /** Trims a finished state to the rule of the job that just entered it, oldest first. */
  #applyRetention(q: QueueData, state: JobState, rule: RetentionRule, now: number): void {
    const ids = q.byState.get(state)!;
    const oldestAllowed = rule.ageMs === null ? -Infinity : now - rule.ageMs;
    for (const id of ids) {
      const job = q.jobs.get(id)!;
      const overCount = rule.count !== null && ids.size > rule.count;
      if (!overCount && (job.finishedAt ?? now) >= oldestAllowed) break;
      this.#delete(q, job);
    }
  }

  #delete(q: QueueData, job: JobRecord): void {
    const wasQueued = job.state === "waiting" || job.state === "delayed";
    q.jobs.delete(job.id);
    q.byState.get(job.state)!.delete(job.id);
    if (job.dedupKey !== null && q.dedup.get(job.dedupKey) === job.id) q.dedup.delete(job.dedupKey);
    // Heap entries of a deleted job are skipped lazily: mark it so no entry matches.
    job.seq = -1;
    if (wasQueued) this.#compact(q);
  }

  /** Drops stale heap entries once they outnumber live ones, so cancelled jobs do not pile up. */
  #compact(q: QueueData): void {
    const live = (state: JobState) => (e: Entry) => e.job.state === state && e.job.seq === e.seq;
    if (q.waiting.size > 1024 + 2 * q.byState.get("waiting")!.size) q.waiting.retain(live("waiting"));
    if (q.delayed.size > 1024 + 2 * q.byState.get("delayed")!.size) q.delayed.retain(live("delayed"));
  }

  #deliver(q: QueueData, events: readonly ConveyorEventData[]): void {
    if (events.length === 0) return;
    for (const listener of q.listeners) {
      for (const event of events) {
        try {
          listener(event);
        } catch (error) {
          reportListenerError(error);
        }
      }
    }
  }
}

function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (report) report(error);
  else console.error("conveyor: an event listener threw", error);
}
