import { type ConveyorEventData, type ConveyorEventType, EVENT_TYPES } from "../core/events.ts";
import {
  FINISHED_STATES,
  type Job,
  type JobCounts,
  type JobState,
  type NewJob,
  PENDING_STATES,
  type RetentionRule,
} from "../core/job.ts";
import { ConveyorError } from "../core/errors.ts";
import * as machine from "../core/transitions.ts";
import { cloneData } from "../util/clone.ts";
import { reportError } from "../util/report-error.ts";
import { Heap } from "../util/heap.ts";
import { PriorityFifo } from "../util/priority-fifo.ts";
import type {
  CancelResult,
  ClaimRequest,
  ClaimResult,
  EnqueueResult,
  FinishRequest,
  FinishResult,
  ListRequest,
  Outcome,
  QueueStore,
  StalledResult,
  StoreCapabilities,
  StoreEventListener,
  Subscription,
} from "./contract.ts";
import { JobList } from "./memory-list.ts";
import { copyJob, type JobRecord, newJobRecord } from "./memory-record.ts";
import { sameRecord } from "./same-record.ts";

/** What changed in one queue since the journal was last drained. */
export interface JournalEntry {
  readonly queue: string;
  readonly upserts: readonly Job[];
  readonly deletes: readonly string[];
  /** Set when the queue's pause flag changed. */
  readonly paused: boolean | undefined;
}

/** A heap entry is current only while its job still has the state and seq it was pushed with. */
interface Entry {
  readonly job: JobRecord;
  readonly seq: number;
}

const byDueTime = (a: Entry, b: Entry) =>
  a.job.runAt < b.job.runAt || (a.job.runAt === b.job.runAt && a.seq < b.seq);
const isCurrent = (entry: Entry, state: JobState) => entry.job.state === state && entry.job.seq === entry.seq;

/** States kept as ordered id sets: active (for stall checks) and finished ones (for retention and listing). */
type IndexedState = Exclude<JobState, "waiting" | "delayed">;

class QueueData {
  readonly name: string;
  readonly jobs = new Map<string, JobRecord>();
  readonly waiting = new PriorityFifo<Entry>();
  readonly delayed = new Heap<Entry>(byDueTime);
  waitingCount = 0;
  delayedCount = 0;
  /** Jobs per state, in the order they entered it (oldest first). */
  readonly indexed: Record<IndexedState, JobList<JobRecord>> = {
    active: new JobList(),
    completed: new JobList(),
    failed: new JobList(),
    dead: new JobList(),
    cancelled: new JobList(),
  };
  readonly dedup = new Map<string, string>();
  /** Active jobs by lease token: a small map, so fencing checks stay cheap however many jobs are kept. */
  readonly leased = new Map<string, JobRecord>();
  readonly listeners = new Map<ConveyorEventType, Set<StoreEventListener>>(EVENT_TYPES.map((t) => [t, new Set()]));
  /** Types with at least one listener, checked on every transition before building an event. */
  readonly wanted = new Set<ConveyorEventType>();
  paused = false;
  nextId = 0;
  /** Jobs changed (record) or deleted (null) since the journal was last drained. */
  readonly dirty = new Map<string, JobRecord | null>();
  pausedDirty = false;

  constructor(name: string) {
    this.name = name;
  }

  wants(type: ConveyorEventType): boolean {
    return this.wanted.size > 0 && this.wanted.has(type);
  }

  updateWanted(): void {
    this.wanted.clear();
    for (const [type, set] of this.listeners) if (set.size > 0) this.wanted.add(type);
  }
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
  readonly #records = new Map<string, Map<string, unknown>>();
  #seq = 0;
  #leases = 0;
  #closed = false;
  readonly #journal: boolean;

  /** `journal: true` records every change for `drainChanges()`: how persistent stores build on this one. */
  constructor(options: { journal?: boolean } = {}) {
    this.#journal = options.journal ?? false;
  }

  /** Jobs changed and deleted, and pause flags changed, since the last call (with `journal: true`). */
  drainChanges(): JournalEntry[] {
    const entries: JournalEntry[] = [];
    for (const q of this.#queues.values()) {
      if (q.dirty.size === 0 && !q.pausedDirty) continue;
      const upserts: Job[] = [];
      const deletes: string[] = [];
      for (const [id, job] of q.dirty) job ? upserts.push(copyJob(job)) : deletes.push(id);
      entries.push({ queue: q.name, upserts, deletes, paused: q.pausedDirty ? q.paused : undefined });
      q.dirty.clear();
      q.pausedDirty = false;
    }
    return entries;
  }

  /** Rebuilds a queue from stored jobs (a restart): each job goes back where its state says. */
  restore(queue: string, jobs: readonly Job[], paused: boolean): void {
    const q = this.#queue(queue);
    q.paused = paused;
    const bySeq = [...jobs].sort((a, b) => a.seq - b.seq);
    for (const job of bySeq) {
      const record = newJobRecord(job, job.id, queue);
      Object.assign(record, {
        state: job.state, seq: job.seq, runAt: job.runAt, attemptsMade: job.attemptsMade, progress: job.progress,
        logs: [...job.logs], result: job.result, lastError: job.lastError, startedAt: job.startedAt,
        finishedAt: job.finishedAt, lease: job.lease, stalls: job.stalls, dead: job.dead,
      });
      q.jobs.set(record.id, record);
      this.#seq = Math.max(this.#seq, record.seq);
      if (/^\d+$/.test(record.id)) q.nextId = Math.max(q.nextId, Number(record.id));
      if (record.lease) {
        this.#leases = Math.max(this.#leases, Number(record.lease.token) || 0);
        q.leased.set(record.lease.token, record);
      }
      if (record.dedupKey !== null && PENDING_STATES.has(record.state)) q.dedup.set(record.dedupKey, record.id);
      if (record.state === "waiting") q.waiting.push(record.priority, { job: record, seq: record.seq });
      else if (record.state === "delayed") q.delayed.push({ job: record, seq: record.seq });
    }
    const finishedOrder = bySeq.filter((j) => !PENDING_STATES.has(j.state)).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const job of [...bySeq.filter((j) => PENDING_STATES.has(j.state)), ...finishedOrder]) {
      const record = q.jobs.get(job.id)!;
      this.#move(q, record, record.state, true);
    }
    q.dirty.clear(); // what was just read back needs no writing
  }

  async enqueue(queue: string, jobs: readonly NewJob[], now: number): Promise<EnqueueResult[]> {
    this.#open();
    const q = this.#queue(queue);
    const results: EnqueueResult[] = [];
    const events: ConveyorEventData[] = [];
    const announce = q.wants("enqueued");
    for (const input of jobs) {
      const existingId = input.id !== null && q.jobs.has(input.id)
        ? input.id
        : input.dedupKey !== null
        ? q.dedup.get(input.dedupKey)
        : undefined;
      const existing = existingId === undefined ? undefined : q.jobs.get(existingId);
      if (existing) {
        results.push({ job: copyJob(existing), created: false });
        continue;
      }
      const job = newJobRecord(input, input.id ?? String(++q.nextId), queue);
      q.jobs.set(job.id, job);
      if (job.dedupKey !== null) q.dedup.set(job.dedupKey, job.id);
      this.#schedule(q, job, now, true);
      results.push({ job: copyJob(job), created: true });
      if (announce) {
        events.push({ type: "enqueued", queue, at: now, jobId: job.id, name: job.name, runAt: job.runAt, priority: job.priority });
      }
    }
    this.#deliver(q, events);
    return results;
  }

  async claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    this.#open();
    const q = this.#queue(queue);
    const events: ConveyorEventData[] = [];
    const claimed = this.#claim(q, request, events);
    this.#deliver(q, events);
    return claimed;
  }

  async finish(queue: string, request: FinishRequest): Promise<FinishResult> {
    this.#open();
    const q = this.#queue(queue);
    const events: ConveyorEventData[] = [];
    const finished = request.outcomes.map((outcome) => this.#record(q, outcome, request.now, events));
    const claim = request.claim;
    const claimed = claim
      ? this.#claim(q, { workerId: claim.workerId, limit: claim.limit, leaseMs: claim.leaseMs, now: request.now }, events)
      : undefined;
    this.#deliver(q, events);
    return { finished, claimed };
  }

  async extendLeases(
    queue: string,
    leases: readonly { id: string; token: string }[],
    leaseMs: number,
    now: number,
  ): Promise<string[]> {
    this.#open();
    const q = this.#queue(queue);
    const lost: string[] = [];
    for (const { id, token } of leases) {
      const job = this.#held(q, id, token);
      if (job) {
        job.lease = { token, workerId: job.lease!.workerId, expiresAt: now + leaseMs };
        this.#mark(q, job);
      } else lost.push(id);
    }
    return lost;
  }

  async release(queue: string, id: string, token: string, now: number, runAt = now): Promise<boolean> {
    this.#open();
    const q = this.#queue(queue);
    const job = this.#held(q, id, token);
    if (!job) return false;
    const events: ConveyorEventData[] = [];
    this.#apply(q, job, machine.release(job, runAt, now), now, events);
    this.#deliver(q, events);
    return true;
  }

  async setProgress(queue: string, id: string, token: string, progress: unknown, now: number): Promise<boolean> {
    this.#open();
    const q = this.#queue(queue);
    const job = this.#held(q, id, token);
    if (!job) return false;
    job.progress = cloneData(progress);
    this.#mark(q, job);
    this.#deliver(q, [{ type: "progress", queue, at: now, jobId: id, name: job.name, progress }]);
    return true;
  }

  async appendLog(queue: string, id: string, token: string, line: string): Promise<boolean> {
    this.#open();
    const q = this.#queue(queue);
    const job = this.#held(q, id, token);
    if (!job) return false;
    job.logs.push(line);
    this.#mark(q, job);
    return true;
  }

  async recoverStalled(queue: string, now: number, maxStalls: number): Promise<StalledResult> {
    this.#open();
    const q = this.#queue(queue);
    const requeued: Job[] = [];
    const failed: Job[] = [];
    const events: ConveyorEventData[] = [];
    for (const job of [...q.indexed.active]) {
      if (!job.lease || job.lease.expiresAt > now) continue;
      const transition = machine.stall(job, maxStalls, now);
      this.#apply(q, job, transition, now, events);
      (transition.requeued ? requeued : failed).push(copyJob(job));
    }
    this.#deliver(q, events);
    return { requeued, failed };
  }

  async cancel(queue: string, id: string, now: number, by: string | null = null): Promise<CancelResult> {
    this.#open();
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job) return { status: "not-found" };
    const previous = job.state;
    const transition = machine.cancel(job, now, by);
    if (typeof transition === "string") return { status: "finished", state: job.state };
    const events: ConveyorEventData[] = [];
    this.#apply(q, job, transition, now, events);
    this.#compact(q);
    this.#deliver(q, events);
    return { status: "cancelled", previous };
  }

  async retry(queue: string, id: string, now: number, by: string | null = null): Promise<Job | null> {
    this.#open();
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job) return null;
    const transition = machine.retry(job, now, by, job.dedupKey !== null && q.dedup.has(job.dedupKey));
    if (typeof transition === "string") return null;
    if (job.dedupKey !== null) q.dedup.set(job.dedupKey, id);
    const events: ConveyorEventData[] = [];
    this.#apply(q, job, transition, now, events);
    this.#deliver(q, events);
    return copyJob(job);
  }

  async remove(queue: string, id: string, now: number): Promise<boolean> {
    this.#open();
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job) return false;
    const removed = machine.remove(job, now);
    if (typeof removed === "string") return false;
    this.#delete(q, job);
    this.#compact(q);
    this.#deliver(q, [removed]);
    return true;
  }

  async clean(queue: string, state: JobState, cutoff: number, limit: number): Promise<number> {
    this.#open();
    const q = this.#queue(queue);
    if (!FINISHED_STATES.has(state)) return 0;
    let removed = 0;
    for (const job of q.indexed[state as IndexedState]) {
      if (removed >= limit) break;
      if ((job.finishedAt ?? 0) > cutoff) break;
      this.#delete(q, job);
      removed++;
    }
    return removed;
  }

  async get(queue: string, id: string): Promise<Job | null> {
    this.#open();
    const job = this.#queues.get(queue)?.jobs.get(id);
    return job ? copyJob(job) : null;
  }

  async list(queue: string, state: JobState, { offset, limit }: ListRequest): Promise<Job[]> {
    this.#open();
    const q = this.#queue(queue);
    let jobs: JobRecord[];
    if (state === "waiting") {
      jobs = [...q.waiting].filter((e) => isCurrent(e, "waiting")).map((e) => e.job);
    } else if (state === "delayed") {
      jobs = q.delayed.sorted().filter((e) => isCurrent(e, "delayed")).map((e) => e.job);
    } else {
      jobs = [...q.indexed[state]];
      if (FINISHED_STATES.has(state)) jobs.reverse();
    }
    return jobs.slice(offset, offset + limit).map(copyJob);
  }

  async counts(queue: string): Promise<JobCounts> {
    this.#open();
    const q = this.#queue(queue);
    return {
      waiting: q.paused ? 0 : q.waitingCount,
      paused: q.paused ? q.waitingCount : 0,
      delayed: q.delayedCount,
      active: q.indexed.active.size,
      completed: q.indexed.completed.size,
      failed: q.indexed.failed.size,
      dead: q.indexed.dead.size,
      cancelled: q.indexed.cancelled.size,
    };
  }

  async setPaused(queue: string, paused: boolean, now: number): Promise<void> {
    this.#open();
    const q = this.#queue(queue);
    if (q.paused === paused) return;
    q.paused = paused;
    q.pausedDirty = true;
    this.#deliver(q, [{ type: paused ? "paused" : "resumed", queue, at: now }]);
  }

  async isPaused(queue: string): Promise<boolean> {
    this.#open();
    return this.#queue(queue).paused;
  }

  async getRecord<T = unknown>(namespace: string, key: string): Promise<T | null> {
    this.#open();
    const value = this.#records.get(namespace)?.get(key);
    return value === undefined ? null : cloneData(value) as T;
  }

  async putRecord(namespace: string, key: string, value: unknown): Promise<void> {
    this.#open();
    let records = this.#records.get(namespace);
    if (!records) this.#records.set(namespace, records = new Map());
    records.set(key, cloneData(value));
  }

  async deleteRecord(namespace: string, key: string): Promise<boolean> {
    this.#open();
    return this.#records.get(namespace)?.delete(key) ?? false;
  }

  async listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]> {
    this.#open();
    const records = [...this.#records.get(namespace) ?? []].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    return records.map(([key, value]) => ({ key, value: cloneData(value) as T }));
  }

  // Nothing awaits between the comparison and the write: atomic within the process.
  async compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    this.#open();
    if (!sameRecord(this.#records.get(namespace)?.get(key), expected)) return false;
    let records = this.#records.get(namespace);
    if (!records) this.#records.set(namespace, records = new Map());
    records.set(key, cloneData(value));
    return true;
  }

  publish(queue: string, event: ConveyorEventData): void {
    this.#deliver(this.#queue(queue), [event]);
  }

  subscribe(queue: string, listener: StoreEventListener, types: readonly ConveyorEventType[] = EVENT_TYPES): Subscription {
    const q = this.#queue(queue);
    for (const type of types) q.listeners.get(type)?.add(listener);
    q.updateWanted();
    return {
      ready: Promise.resolve(),
      close: () => {
        for (const type of types) q.listeners.get(type)?.delete(listener);
        q.updateWanted();
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const q of this.#queues.values()) {
      for (const set of q.listeners.values()) set.clear();
      q.updateWanted();
    }
  }

  /** Every call after `close` rejects alike, on every store. */
  #open(): void {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This MemoryStore is closed");
  }

  #queue(name: string): QueueData {
    let data = this.#queues.get(name);
    if (!data) this.#queues.set(name, data = new QueueData(name));
    return data;
  }

  #claim(q: QueueData, request: ClaimRequest, events: ConveyorEventData[]): ClaimResult {
    const { now } = request;
    this.#promoteDue(q, now);
    const jobs: Job[] = [];
    const announce = q.wants("active");
    while (!q.paused && jobs.length < request.limit) {
      const entry = q.waiting.shift();
      if (!entry) break;
      const job = entry.job;
      if (job.state !== "waiting" || job.seq !== entry.seq) continue;
      const token = String(++this.#leases);
      this.#apply(q, job, machine.claim(job, request.workerId, token, now + request.leaseMs, now), now, announce ? events : null);
      jobs.push(copyJob(job));
    }
    return { jobs, nextDueAt: this.#nextDueAt(q) };
  }

  /** One outcome of a batch, retention included: a batch does what its outcomes would one by one. */
  #record(q: QueueData, outcome: Outcome, now: number, events: ConveyorEventData[]): JobState | null {
    const job = this.#held(q, outcome.id, outcome.token);
    if (!job) return null;
    const transition = machine.recordOutcome(job, outcome, now);
    // The stored result is the store's own copy; the event carries the handler's value.
    if (outcome.kind === "completed") transition.patch.result = cloneData(outcome.result);
    this.#apply(q, job, transition, now, events);
    return transition.state;
  }

  /**
   * Applies one transition of the core state machine to a record: lease, patch, state and the
   * indexes that follow it, the dedup key, retention, and the events (when anyone listens).
   */
  #apply(
    q: QueueData,
    job: JobRecord,
    transition: machine.Transition,
    now: number,
    events: ConveyorEventData[] | null,
  ): void {
    this.#dropLease(q, job);
    Object.assign(job, transition.patch);
    if (transition.requeued) this.#schedule(q, job, now);
    else this.#move(q, job, transition.state);
    if (job.lease) q.leased.set(job.lease.token, job);
    if (transition.releasesDedup && job.dedupKey !== null && q.dedup.get(job.dedupKey) === job.id) q.dedup.delete(job.dedupKey);
    if (events) for (const event of transition.events) if (q.wants(event.type)) events.push(event);
    if (transition.retention) this.#applyRetention(q, transition.state as IndexedState, transition.retention, now);
  }

  #mark(q: QueueData, job: JobRecord): void {
    if (this.#journal) q.dirty.set(job.id, job);
  }

  /** The job, if `token` still holds its lease. */
  #held(q: QueueData, id: string, token: string): JobRecord | undefined {
    const job = q.leased.get(token);
    return job && job.id === id ? job : undefined;
  }

  #dropLease(q: QueueData, job: JobRecord): void {
    if (job.lease) q.leased.delete(job.lease.token);
    job.lease = null;
  }

  /** Puts a job in waiting or delayed by its `runAt`, behind everything already there. */
  #schedule(q: QueueData, job: JobRecord, now: number, isNew = false): void {
    job.seq = ++this.#seq;
    if (job.runAt > now) {
      this.#move(q, job, "delayed", isNew);
      q.delayed.push({ job, seq: job.seq });
    } else {
      this.#move(q, job, "waiting", isNew);
      q.waiting.push(job.priority, { job, seq: job.seq });
    }
  }

  #promoteDue(q: QueueData, now: number): void {
    for (;;) {
      const entry = q.delayed.peek();
      if (!entry) return;
      const current = isCurrent(entry, "delayed");
      if (current && entry.job.runAt > now) return;
      q.delayed.pop();
      if (current) this.#schedule(q, entry.job, now);
    }
  }

  #nextDueAt(q: QueueData): number | null {
    for (;;) {
      const entry = q.delayed.peek();
      if (!entry) return null;
      if (isCurrent(entry, "delayed")) return entry.job.runAt;
      q.delayed.pop();
    }
  }

  /** Moves a job between states, keeping counters and ordered sets in step. */
  #move(q: QueueData, job: JobRecord, state: JobState, isNew = false): void {
    if (this.#journal) q.dirty.set(job.id, job);
    if (!isNew) this.#unindex(q, job);
    job.state = state;
    if (state === "waiting") q.waitingCount++;
    else if (state === "delayed") q.delayedCount++;
    else q.indexed[state].push(job);
  }

  #unindex(q: QueueData, job: JobRecord): void {
    if (job.state === "waiting") q.waitingCount--;
    else if (job.state === "delayed") q.delayedCount--;
    else q.indexed[job.state].remove(job);
  }

  /** Trims a finished state to the rule of the job that just entered it, oldest first. */
  #applyRetention(q: QueueData, state: IndexedState, rule: RetentionRule, now: number): void {
    const ids = q.indexed[state];
    for (let job = ids.oldest; job !== null && machine.overRetention(rule, ids.size, job.finishedAt, now); job = ids.oldest) {
      this.#delete(q, job);
    }
  }

  #delete(q: QueueData, job: JobRecord): void {
    if (this.#journal) q.dirty.set(job.id, null);
    this.#unindex(q, job);
    q.jobs.delete(job.id);
    if (job.dedupKey !== null && q.dedup.get(job.dedupKey) === job.id) q.dedup.delete(job.dedupKey);
    // Heap entries of a deleted job are skipped lazily: no entry matches seq -1.
    job.seq = -1;
  }

  /** Drops stale heap entries once they outnumber live ones, so cancelled jobs do not pile up. */
  #compact(q: QueueData): void {
    if (q.waiting.size > 1024 + 2 * q.waitingCount) q.waiting.retain((e) => isCurrent(e, "waiting"));
    if (q.delayed.size > 1024 + 2 * q.delayedCount) q.delayed.retain((e) => isCurrent(e, "delayed"));
  }

  #deliver(q: QueueData, events: readonly ConveyorEventData[]): void {
    for (const event of events) {
      for (const listener of q.listeners.get(event.type)!) {
        try {
          listener(event);
        } catch (error) {
          reportError(error, "an event listener threw");
        }
      }
    }
  }
}
