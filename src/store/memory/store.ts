import { type ConveyorEventData, type ConveyorEventType, EVENT_TYPES } from "../../core/events.ts";
import { FINISHED_STATES, type Job, type JobCounts, type JobState } from "../../core/job.ts";
import { ConveyorError } from "../../core/errors.ts";
import * as machine from "../../core/transitions.ts";
import type { AuditEntry, NewAuditEntry } from "../../core/audit-entry.ts";
import type {
  AuditListRequest,
  AuditTrimRequest,
  CancelResult,
  ChangeRequest,
  ClaimRequest,
  ClaimResult,
  CleanRequest,
  EnqueueRequest,
  EnqueueResult,
  ExtendLeasesRequest,
  FinishRequest,
  FinishResult,
  JobRequest,
  ListRequest,
  LogRequest,
  PauseRequest,
  ProgressRequest,
  QueueStore,
  ReleaseRequest,
  RemoveResult,
  RetryResult,
  StalledRequest,
  StalledResult,
  StepRequest,
  StoreCapabilities,
  StoreEventListener,
  Subscription,
} from "../../core/store-contract.ts";
import { copyJob, type JobRecord } from "./job-record.ts";
import { drainJournal, restoreQueue } from "./journal.ts";
import { LocalRecords } from "../kit/local-records.ts";
import { MemoryAudit } from "./audit.ts";
import { type IndexedState, type JournalEntry, QueueData } from "./queue-data.ts";
import { countJobs, listJobs } from "./queue-reads.ts";
import * as held from "./held-updates.ts";
import { claimWaiting, enqueueJobs, recordOutcome } from "./attempts.ts";
import { applyEffects, enqueueFlow, EventBatch, type MemoryQueues } from "./workflow.ts";
import { aftermath, removalAftermath } from "../../core/workflow-rules.ts";
import type { EnqueueFlowRequest } from "../../core/workflow.ts";

export type { JournalEntry } from "./queue-data.ts";

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
  readonly #access: MemoryQueues = { queue: (name) => this.#queue(name), find: (name) => this.#queues.get(name) };
  readonly #records = new LocalRecords();
  #seq = 0;
  #leases = 0;
  readonly #nextToken = () => String(++this.#leases);
  #closed = false;
  readonly #journal: boolean;
  /** The audit log; with `journal: true`, its `drain()` and `restore()` are how persistent stores keep it. */
  readonly auditLog: MemoryAudit;

  /** `journal: true` records every change for `drainChanges()`: how persistent stores build on this one. */
  constructor(options: { journal?: boolean } = {}) {
    this.#journal = options.journal ?? false;
    this.auditLog = new MemoryAudit(this.#journal);
  }

  /** Jobs changed and deleted, and pause flags changed, since the last call (with `journal: true`). */
  drainChanges(): JournalEntry[] {
    return [...this.#queues.values()].map(drainJournal).filter((entry) => entry !== null);
  }

  /** Rebuilds a queue from stored jobs (a restart): each job goes back where its state says. */
  restore(queue: string, jobs: readonly Job[], paused: boolean): void {
    const highest = restoreQueue(this.#queue(queue), jobs, paused);
    this.#seq = Math.max(this.#seq, highest.seq);
    this.#leases = Math.max(this.#leases, highest.leaseToken);
  }

  async enqueue(queue: string, { jobs, now }: EnqueueRequest): Promise<EnqueueResult[]> {
    this.#open();
    return enqueueJobs(this.#queue(queue), jobs, now);
  }

  async enqueueFlow({ nodes, now }: EnqueueFlowRequest): Promise<Job[]> {
    this.#open();
    return enqueueFlow(this.#access, nodes, now);
  }

  async claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    this.#open();
    const q = this.#queue(queue);
    const events: ConveyorEventData[] = [];
    const claimed = claimWaiting(q, request, events, this.#nextToken);
    q.events.deliver(events);
    return claimed;
  }

  async finish(queue: string, request: FinishRequest): Promise<FinishResult> {
    this.#open();
    const q = this.#queue(queue);
    const events: ConveyorEventData[] = [];
    const ended: JobRecord[] = [];
    const finished = request.outcomes.map((outcome) => recordOutcome(q, outcome, request.now, events, ended));
    const claim = request.claim;
    const claimed = claim
      ? claimWaiting(q, { workerId: claim.workerId, limit: claim.limit, leaseMs: claim.leaseMs, now: request.now }, events, this.#nextToken)
      : undefined;
    q.events.deliver(events);
    if (ended.length > 0) this.#aftermath(ended, request.now);
    return { finished, claimed };
  }

  async extendLeases(queue: string, { leases, leaseMs, now }: ExtendLeasesRequest): Promise<string[]> {
    this.#open();
    const q = this.#queue(queue);
    const lost: string[] = [];
    for (const { id, token } of leases) {
      const job = q.held(id, token);
      if (job) {
        job.lease = { token, workerId: job.lease!.workerId, expiresAt: now + leaseMs };
        q.mark(job);
      } else lost.push(id);
    }
    return lost;
  }

  async release(queue: string, { id, token, now, runAt = now }: ReleaseRequest): Promise<boolean> {
    this.#open();
    const q = this.#queue(queue);
    const job = q.held(id, token);
    if (!job) return false;
    const events: ConveyorEventData[] = [];
    q.apply(job, machine.release(job, runAt, now), now, events);
    q.events.deliver(events);
    return true;
  }

  async setProgress(queue: string, request: ProgressRequest): Promise<boolean> {
    this.#open();
    return held.setProgress(this.#queue(queue), request);
  }

  async appendLog(queue: string, request: LogRequest): Promise<boolean> {
    this.#open();
    return held.appendLog(this.#queue(queue), request);
  }

  async saveStep(queue: string, request: StepRequest): Promise<boolean> {
    this.#open();
    return held.saveStep(this.#queue(queue), request);
  }

  async recoverStalled(queue: string, { now, maxStalls }: StalledRequest): Promise<StalledResult> {
    this.#open();
    const q = this.#queue(queue);
    const requeued: Job[] = [];
    const failed: Job[] = [];
    const events: ConveyorEventData[] = [];
    const ended: JobRecord[] = [];
    for (const job of [...q.indexed.active]) {
      if (!job.lease || job.lease.expiresAt > now) continue;
      const transition = machine.stall(job, maxStalls, now);
      q.apply(job, transition, now, events);
      (transition.requeued ? requeued : failed).push(copyJob(job));
      if (!transition.requeued && job.flow !== null) ended.push(job);
    }
    q.events.deliver(events);
    if (ended.length > 0) this.#aftermath(ended, now);
    return { requeued, failed };
  }

  async cancel(queue: string, { id, now, by = null }: ChangeRequest): Promise<CancelResult> {
    this.#open();
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job) return { status: "not-found" };
    const previous = job.state;
    const transition = machine.cancel(job, now, by);
    if (typeof transition === "string") return { status: "finished", state: job.state };
    const events: ConveyorEventData[] = [];
    q.apply(job, transition, now, events);
    q.compact();
    q.events.deliver(events);
    if (job.flow !== null) this.#aftermath([job], now);
    return { status: "cancelled", previous };
  }

  async retry(queue: string, { id, now, by = null }: ChangeRequest): Promise<RetryResult> {
    this.#open();
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job) return { status: "not-found" };
    const transition = machine.retry(job, now, by, job.dedupKey !== null && q.dedup.has(job.dedupKey));
    if (transition === "dedup-taken") return { status: transition };
    if (typeof transition === "string") return { status: "not-retryable", state: job.state };
    if (job.dedupKey !== null) q.dedup.set(job.dedupKey, id);
    const events: ConveyorEventData[] = [];
    q.apply(job, transition, now, events);
    q.events.deliver(events);
    return { status: "retried", job: copyJob(job) };
  }

  async remove(queue: string, { id, now }: JobRequest): Promise<RemoveResult> {
    this.#open();
    const q = this.#queue(queue);
    const job = q.jobs.get(id);
    if (!job) return { status: "not-found" };
    const removed = machine.remove(job, now);
    if (typeof removed === "string") return { status: "active" };
    q.delete(job);
    q.compact();
    q.events.deliver([removed]);
    if (job.flow !== null) this.#aftermath([job], now, true);
    return { status: "removed" };
  }

  async clean(queue: string, { state, cutoff, limit }: CleanRequest): Promise<number> {
    this.#open();
    const q = this.#queue(queue);
    if (!FINISHED_STATES.has(state)) return 0;
    let removed = 0;
    for (const job of q.indexed[state as IndexedState]) {
      if (removed >= limit) break;
      if ((job.finishedAt ?? 0) > cutoff) break;
      q.delete(job);
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
    return listJobs(this.#queue(queue), state, offset, limit);
  }

  async counts(queue: string): Promise<JobCounts> {
    this.#open();
    return countJobs(this.#queue(queue));
  }

  async setPaused(queue: string, { paused, now }: PauseRequest): Promise<void> {
    this.#open();
    const q = this.#queue(queue);
    if (q.paused === paused) return;
    q.paused = paused;
    q.pausedDirty = true;
    q.events.deliver([{ type: paused ? "paused" : "resumed", queue, at: now }]);
  }

  async isPaused(queue: string): Promise<boolean> {
    this.#open();
    return this.#queue(queue).paused;
  }

  async getRecord<T = unknown>(namespace: string, key: string): Promise<T | null> {
    this.#open();
    return this.#records.get<T>(namespace, key);
  }

  async putRecord(namespace: string, key: string, value: unknown): Promise<void> {
    this.#open();
    this.#records.put(namespace, key, value);
  }

  async deleteRecord(namespace: string, key: string): Promise<boolean> {
    this.#open();
    return this.#records.delete(namespace, key);
  }

  async listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]> {
    this.#open();
    return this.#records.list<T>(namespace);
  }

  async compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    this.#open();
    return this.#records.compareAndSet(namespace, key, expected, value);
  }

  async appendAudit(entries: readonly NewAuditEntry[]): Promise<string[]> {
    this.#open();
    return this.auditLog.append(entries);
  }
  async listAudit(request: AuditListRequest): Promise<AuditEntry[]> {
    this.#open();
    return this.auditLog.list(request);
  }
  async trimAudit(request: AuditTrimRequest): Promise<number> {
    this.#open();
    return this.auditLog.trim(request);
  }

  publish(queue: string, event: ConveyorEventData): void {
    this.#queue(queue).events.deliver([event]);
  }

  subscribe(queue: string, listener: StoreEventListener, types: readonly ConveyorEventType[] = EVENT_TYPES): Subscription {
    return this.#queue(queue).events.subscribe(listener, types);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const q of this.#queues.values()) q.events.clear();
  }

  /** Every call after `close` rejects alike, on every store. */
  #open(): void {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This MemoryStore is closed");
  }

  #queue(name: string): QueueData {
    let data = this.#queues.get(name);
    if (!data) this.#queues.set(name, data = new QueueData(name, this.#journal, () => ++this.#seq));
    return data;
  }

  /** Workflow effects of jobs that ended, applied before the call that ended them returns. */
  #aftermath(ended: readonly JobRecord[], now: number, removed = false): void {
    const batch = new EventBatch();
    applyEffects(this.#access, ended.flatMap((job) => (removed ? removalAftermath(job, now) : aftermath(job, now))), now, batch);
    batch.deliver();
  }
}
