import type { ConveyorEventData } from "../../core/events.ts";
import type { Job, JobState } from "../../core/job.ts";
import type { DenoKv, KvKey } from "./kv.ts";
import { delta, KV_LIMITS } from "./kv.ts";
import { type QueueKeys, sameKey } from "./keys.ts";

/** A job as read, with the versionstamp a write must still find. */
export interface Versioned {
  readonly job: Job;
  readonly versionstamp: string;
}

/** How long other processes can still read an event from the log. */
const EVENT_TTL_MS = 60_000;

/**
 * One atomic operation on one queue, built up step by step: each job written is checked against
 * the versionstamp it was read at, its index entry and per-state counters move with it, and the
 * events the change causes go into the shared event log in the same commit. If anything read
 * has changed since, nothing is written and the caller reads again.
 */
export class Tx {
  readonly events: ConveyorEventData[] = [];
  readonly #op;
  readonly #keys: QueueKeys;
  readonly #deltas = new Map<JobState, number>();
  #checks = 0;
  #mutations = 0;

  constructor(kv: DenoKv, keys: QueueKeys) {
    this.#op = kv.atomic();
    this.#keys = keys;
  }

  /** Room for `checks` more checks (one per job written) within Deno KV's limits for one commit. */
  fits(checks = 1): boolean {
    return this.#checks + checks <= KV_LIMITS.checks && this.#mutations + 5 * checks <= KV_LIMITS.mutations - 20;
  }

  get empty(): boolean {
    return this.#mutations === 0 && this.events.length === 0;
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

  /** Writes `next` over `previous` (null: a new job, or a deletion), moving index entry and counters. */
  put(previous: Versioned | null, next: Job | null): this {
    const keys = this.#keys;
    const id = (next ?? previous!.job).id;
    this.check(keys.job(id), previous?.versionstamp ?? null);
    const oldIndex = previous ? keys.indexOf(previous.job) : null;
    const newIndex = next ? keys.indexOf(next) : null;
    if (oldIndex && !(newIndex && sameKey(oldIndex, newIndex))) this.delete(oldIndex);
    if (previous) this.#count(previous.job.state, -1);
    if (next) {
      this.set(keys.job(id), next);
      this.set(newIndex!, id);
      this.#count(next.state, 1);
    } else {
      this.delete(keys.job(id));
    }
    return this;
  }

  emit(event: ConveyorEventData): this {
    this.events.push(event);
    return this;
  }

  /** Commits; false when something read has changed since (nothing was written). */
  async commit(eventSeq: number, nodeId: string): Promise<boolean> {
    for (const [state, n] of this.#deltas) if (n !== 0) this.#op.sum(this.#keys.count(state), delta(n));
    if (this.events.length > 0) {
      this.#op.set([...this.#keys.events, eventSeq, nodeId], this.events, { expireIn: EVENT_TTL_MS });
      this.#op.sum(this.#keys.eventTick, 1n);
    }
    return (await this.#op.commit()).ok;
  }

  #count(state: JobState, n: number): void {
    this.#deltas.set(state, (this.#deltas.get(state) ?? 0) + n);
  }
}
