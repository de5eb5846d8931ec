import type { ConveyorEventData } from "../../core/events.ts";
import type { Job, JobState } from "../../core/job.ts";
import type { DenoKv, KvKey } from "./kv.ts";
import { delta, KV_LIMITS } from "./kv.ts";
import { approxSize } from "./size.ts";
import { type QueueKeys, sameKey } from "./keys.ts";

/** A job as read, with the versionstamp a write must still find. */
export interface Versioned {
  readonly job: Job;
  readonly versionstamp: string;
}

/** How long other processes can still read an event from the log. */
const EVENT_TTL_MS = 60_000;
/** Events per log entry: a commit that moves many jobs writes several, each well under a value's 64 KiB. */
const EVENTS_PER_ENTRY = 64;

/** What one commit changes in one queue besides the keys it sets: counters and events. */
interface QueueChanges {
  readonly deltas: Map<JobState, number>;
  readonly events: ConveyorEventData[];
}

/**
 * One atomic operation, built up step by step: each job written is checked against the
 * versionstamp it was read at, its index entry and per-state counters move with it, and the
 * events the change causes go into the shared event log in the same commit. If anything read
 * has changed since, nothing is written and the caller reads again. Most commits touch one
 * queue; workflow commits (a flow's jobs, effects on other queues) touch several, each job's
 * keys found by its queue.
 */
/** What the jobs of a commit wider than 10 checks may weigh, of the 800 KiB a commit holds. */
const WIDE_COMMIT_BYTES = 500 * 1024;

export class Tx {
  readonly #op;
  readonly #keys: QueueKeys;
  readonly #keysOf: (queue: string) => QueueKeys;
  readonly #own: QueueChanges = { deltas: new Map(), events: [] };
  readonly #others = new Map<QueueKeys, QueueChanges>();
  #checks = 0;
  #mutations = 0;
  /** Most checks this commit may hold: KV_LIMITS' 10, or more where the backend allows (kv.ts). */
  readonly #maxChecks: number;
  /** Rough bytes of the jobs written, counted only when a commit may hold more than 10 of them. */
  #bytes = 0;

  constructor(kv: DenoKv, keys: QueueKeys, keysOf: (queue: string) => QueueKeys = () => keys, maxChecks: number = KV_LIMITS.checks) {
    this.#op = kv.atomic();
    this.#keys = keys;
    this.#keysOf = keysOf;
    this.#maxChecks = maxChecks;
  }

  /** Room for `checks` more checks (one per job written) within Deno KV's limits for one commit. */
  fits(checks = 1): boolean {
    return this.#checks + checks <= this.#maxChecks && this.#mutations + 5 * checks <= KV_LIMITS.mutations - 20 &&
      this.#bytes <= WIDE_COMMIT_BYTES;
  }

  get checks(): number {
    return this.#checks;
  }

  get mutations(): number {
    return this.#mutations;
  }

  get empty(): boolean {
    return this.#mutations === 0 && this.#own.events.length === 0 && this.#others.size === 0;
  }

  /** The events of this commit, by queue. */
  *events(): Iterable<[string, ConveyorEventData[]]> {
    if (this.#own.events.length > 0) yield [this.#keys.queue, this.#own.events];
    for (const [keys, changes] of this.#others) if (changes.events.length > 0) yield [keys.queue, changes.events];
  }

  check(key: KvKey, versionstamp: string | null): this {
    this.#op.check({ key, versionstamp });
    this.#checks++;
    return this;
  }

  set(key: KvKey, value: unknown): this {
    this.#op.set(key, value);
    this.#mutations++;
    return this;
  }

  delete(key: KvKey): this {
    this.#op.delete(key);
    this.#mutations++;
    return this;
  }

  sum(key: KvKey, n: number): this {
    this.#op.sum(key, delta(n));
    this.#mutations++;
    return this;
  }

  /** Writes `next` over `previous` (null: a new job, or a deletion), moving index entry and counters. */
  put(previous: Versioned | null, next: Job | null): this {
    const job = next ?? previous!.job;
    // Ten jobs of at most 64 KiB fit the 800 KiB a commit holds; more need counting (a job's
    // record, and its event, which may carry its result).
    if (next && this.#maxChecks > KV_LIMITS.checks) this.#bytes += 2 * approxSize(next);
    this.check(this.#keysFor(job.queue).job(job.id), previous?.versionstamp ?? null);
    return this.#move(previous?.job ?? null, next);
  }

  /** Adds a job whose id the store reserved from its counter: no other writer can have that key, so no check. */
  insert(job: Job): this {
    return this.#move(null, job);
  }

  emit(event: ConveyorEventData): this {
    this.#changes(event.queue === this.#keys.queue ? this.#keys : this.#keysOf(event.queue)).events.push(event);
    return this;
  }

  /** Commits; false when something read has changed since (nothing was written). */
  async commit(eventSeq: () => number, nodeId: string): Promise<boolean> {
    this.#flush(this.#keys, this.#own, eventSeq, nodeId);
    for (const [keys, changes] of this.#others) this.#flush(keys, changes, eventSeq, nodeId);
    return (await this.#op.commit()).ok;
  }

  #move(previous: Job | null, next: Job | null): this {
    const job = (next ?? previous)!;
    const keys = this.#keysFor(job.queue);
    const oldIndex = previous ? keys.indexOf(previous) : null;
    const newIndex = next ? keys.indexOf(next) : null;
    if (oldIndex && !(newIndex && sameKey(oldIndex, newIndex))) this.delete(oldIndex);
    const { deltas } = this.#changes(keys);
    if (previous) deltas.set(previous.state, (deltas.get(previous.state) ?? 0) - 1);
    if (next) {
      this.set(keys.job(job.id), next);
      this.set(newIndex!, job.id);
      deltas.set(next.state, (deltas.get(next.state) ?? 0) + 1);
    } else {
      this.delete(keys.job(job.id));
      // A parent's children and outcomes live under their own keys: the outbox deletes them.
      if (previous?.flow?.family) this.set(keys.forget(job.id), { kind: "forget", queue: job.queue, id: job.id });
    }
    return this;
  }

  #keysFor(queue: string): QueueKeys {
    return queue === this.#keys.queue ? this.#keys : this.#keysOf(queue);
  }

  #changes(keys: QueueKeys): QueueChanges {
    if (keys === this.#keys || keys.queue === this.#keys.queue) return this.#own;
    let changes = this.#others.get(keys);
    if (!changes) this.#others.set(keys, changes = { deltas: new Map(), events: [] });
    return changes;
  }

  #flush(keys: QueueKeys, { deltas, events }: QueueChanges, eventSeq: () => number, nodeId: string): void {
    for (const [state, n] of deltas) if (n !== 0) this.#op.sum(keys.count(state), delta(n));
    if (events.length === 0) return;
    for (let i = 0; i < events.length; i += EVENTS_PER_ENTRY) {
      const slice = events.length <= EVENTS_PER_ENTRY ? events : events.slice(i, i + EVENTS_PER_ENTRY);
      this.#op.set([...keys.events, eventSeq(), nodeId], slice, { expireIn: EVENT_TTL_MS });
    }
    this.#op.sum(keys.eventTick, 1n);
  }
}
