import type { ConveyorEventData, ConveyorEventType } from "../../core/events.ts";
import type { Job, JobState, RetentionRule } from "../../core/job.ts";
import * as machine from "../../core/transitions.ts";
import { Heap } from "../../util/heap.ts";
import { PriorityFifo } from "../../util/priority-fifo.ts";
import { LocalEvents } from "../kit/local-events.ts";
import { JobList } from "./job-list.ts";
import type { JobRecord } from "./job-record.ts";

/** One queue's jobs in memory: the records, and the orders and indexes each state needs. */

/** What changed in one queue since the journal was last drained. */
export interface JournalEntry {
  readonly queue: string;
  readonly upserts: readonly Job[];
  readonly deletes: readonly string[];
  /** Set when the queue's pause flag changed. */
  readonly paused: boolean | undefined;
}

/** A heap entry is current only while its job still has the state and seq it was pushed with. */
export interface Entry {
  readonly job: JobRecord;
  readonly seq: number;
}

export const byDueTime = (a: Entry, b: Entry) =>
  a.job.runAt < b.job.runAt || (a.job.runAt === b.job.runAt && a.seq < b.seq);
export const isCurrent = (entry: Entry, state: JobState) => entry.job.state === state && entry.job.seq === entry.seq;

/** States kept as ordered id sets: active (for stall checks) and finished ones (for retention and listing). */
export type IndexedState = Exclude<JobState, "waiting" | "delayed">;

export class QueueData {
  readonly name: string;
  readonly jobs = new Map<string, JobRecord>();
  readonly waiting = new PriorityFifo<Entry>();
  readonly delayed = new Heap<Entry>(byDueTime);
  waitingCount = 0;
  delayedCount = 0;
  /** Jobs per state, in the order they entered it (oldest first). */
  readonly indexed: Record<IndexedState, JobList<JobRecord>> = {
    active: new JobList(),
    "waiting-children": new JobList(),
    completed: new JobList(),
    failed: new JobList(),
    dead: new JobList(),
    cancelled: new JobList(),
  };
  readonly dedup = new Map<string, string>();
  /** Active jobs by lease token: a small map, so fencing checks stay cheap however many jobs are kept. */
  readonly leased = new Map<string, JobRecord>();
  readonly events = new LocalEvents();
  paused = false;
  nextId = 0;
  /** Jobs changed (record) or deleted (null) since the journal was last drained. */
  readonly dirty = new Map<string, JobRecord | null>();
  pausedDirty = false;

  /** Records every change for the journal (`MemoryStore({ journal: true })`). */
  readonly journal: boolean;
  /** The store-wide position counter: a job re-entering waiting goes behind everything there. */
  readonly nextSeq: () => number;

  constructor(name: string, journal: boolean, nextSeq: () => number) {
    this.name = name;
    this.journal = journal;
    this.nextSeq = nextSeq;
  }

  wants(type: ConveyorEventType): boolean {
    return this.events.wants(type);
  }

  /**
   * Applies one transition of the core state machine to a record: lease, patch, state and the
   * indexes that follow it, the dedup key, retention, and the events (when anyone listens).
   */
  apply(
    job: JobRecord,
    transition: machine.Transition,
    now: number,
    events: ConveyorEventData[] | null,
  ): void {
    this.dropLease(job);
    Object.assign(job, transition.patch);
    if (transition.requeued) this.schedule(job, now);
    else this.move(job, transition.state);
    if (job.lease) this.leased.set(job.lease.token, job);
    if (transition.releasesDedup && job.dedupKey !== null && this.dedup.get(job.dedupKey) === job.id) this.dedup.delete(job.dedupKey);
    if (events) for (const event of transition.events) if (this.wants(event.type)) events.push(event);
    if (transition.retention) this.applyRetention(transition.state as IndexedState, transition.retention, now);
  }

  mark(job: JobRecord): void {
    if (this.journal) this.dirty.set(job.id, job);
  }

  /** The job, if `token` still holds its lease. */
  held(id: string, token: string): JobRecord | undefined {
    const job = this.leased.get(token);
    return job && job.id === id ? job : undefined;
  }

  dropLease(job: JobRecord): void {
    if (job.lease) this.leased.delete(job.lease.token);
    job.lease = null;
  }

  /** Puts a job in waiting or delayed by its `runAt`, behind everything already there. */
  schedule(job: JobRecord, now: number, isNew = false): void {
    job.seq = this.nextSeq();
    if (job.runAt > now) {
      this.move(job, "delayed", isNew);
      this.delayed.push({ job, seq: job.seq });
    } else {
      this.move(job, "waiting", isNew);
      this.waiting.push(job.priority, { job, seq: job.seq });
    }
  }

  promoteDue(now: number): void {
    for (;;) {
      const entry = this.delayed.peek();
      if (!entry) return;
      const current = isCurrent(entry, "delayed");
      if (current && entry.job.runAt > now) return;
      this.delayed.pop();
      if (current) this.schedule(entry.job, now);
    }
  }

  nextDueAt(): number | null {
    for (;;) {
      const entry = this.delayed.peek();
      if (!entry) return null;
      if (isCurrent(entry, "delayed")) return entry.job.runAt;
      this.delayed.pop();
    }
  }

  /** Moves a job between states, keeping counters and ordered sets in step. */
  move(job: JobRecord, state: JobState, isNew = false): void {
    if (this.journal) this.dirty.set(job.id, job);
    if (!isNew) this.unindex(job);
    job.state = state;
    if (state === "waiting") this.waitingCount++;
    else if (state === "delayed") this.delayedCount++;
    else this.indexed[state].push(job);
  }

  unindex(job: JobRecord): void {
    if (job.state === "waiting") this.waitingCount--;
    else if (job.state === "delayed") this.delayedCount--;
    else this.indexed[job.state].remove(job);
  }

  /** Trims a finished state to the rule of the job that just entered it, oldest first. */
  applyRetention(state: IndexedState, rule: RetentionRule, now: number): void {
    const ids = this.indexed[state];
    for (let job = ids.oldest; job !== null && machine.overRetention(rule, ids.size, job.finishedAt, now); job = ids.oldest) {
      this.delete(job);
    }
  }

  delete(job: JobRecord): void {
    if (this.journal) this.dirty.set(job.id, null);
    this.unindex(job);
    this.jobs.delete(job.id);
    if (job.dedupKey !== null && this.dedup.get(job.dedupKey) === job.id) this.dedup.delete(job.dedupKey);
    // Heap entries of a deleted job are skipped lazily: no entry matches seq -1.
    job.seq = -1;
  }

  /** Drops stale heap entries once they outnumber live ones, so cancelled jobs do not pile up. */
  compact(): void {
    if (this.waiting.size > 1024 + 2 * this.waitingCount) this.waiting.retain((e) => isCurrent(e, "waiting"));
    if (this.delayed.size > 1024 + 2 * this.delayedCount) this.delayed.retain((e) => isCurrent(e, "delayed"));
  }

}
