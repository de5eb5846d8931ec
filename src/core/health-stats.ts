import type { Clock, TimerHandle } from "./clock.ts";
import {
  figuresOf, histogramIndex, HOUR_MS, hourKey, hourOf, KEEP_BUCKETS_MS, mergeBucket, namespaceOf, type QueueFigures, type StatsBucket, Tally,
} from "./health-buckets.ts";
import type { QueueStore } from "./store-contract.ts";
import type { AttemptResult } from "./worker-outcomes.ts";

/** Compare-and-set tries per bucket and flush; past them the counts wait for the next flush. */
const MAX_SWAPS = 8;

export interface StatsRecorderOptions {
  readonly store: QueueStore;
  readonly clock: Clock;
  /** How long counts wait in memory before they are written. */
  readonly flushMs: number;
  /** Told of a flush that failed, once per outage (the counts are kept and tried again). */
  readonly reportError: (error: unknown) => void;
}

/**
 * Execution figures shared by every process on a store. Each process adds its workers' attempts
 * to tallies in memory (one per queue and hour: counters and a duration histogram) and, `flushMs`
 * after the first count since the last write, adds them to the hour's record in the store with a
 * compare-and-set loop, so processes writing the same hour never lose each other's counts.
 *
 * Cost: per flush, per queue and hour with counts, one record read and one compare-and-set (two
 * more per conflict with another process); once an hour per queue, one list and deletes for
 * buckets over 48 hours old. An idle process writes nothing and holds no timer.
 *
 * Crash window: a process killed loses what it counted since its last flush, at most `flushMs`
 * of attempts (more while the store is unreachable: the counts are kept and written once it is
 * back, or lost with the process).
 */
export class StatsRecorder {
  readonly #store: QueueStore;
  readonly #clock: Clock;
  readonly #flushMs: number;
  readonly #reportError: (error: unknown) => void;
  /** queue → hour start → counts not yet written. */
  #pending = new Map<string, Map<number, Tally>>();
  /** The tally the last count went to: the same queue and hour again costs no map lookups. */
  #last: { queue: string; hour: number; tally: Tally } | undefined;
  #timer: TimerHandle | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #prunedAt = new Map<string, number>();
  #failing = false;
  #closed = false;

  constructor(options: StatsRecorderOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#flushMs = options.flushMs;
    this.#reportError = options.reportError;
  }

  /** Counts one attempt (a worker's outcome listener: bound, and nothing but arithmetic). */
  readonly record = (queue: string, result: AttemptResult, durationMs: number, at: number): void => {
    const hour = hourOf(at);
    const last = this.#last;
    const tally = last !== undefined && last.queue === queue && last.hour === hour ? last.tally : this.#tallyFor(queue, hour);
    tally[result]++;
    tally.durationMs += durationMs;
    if (durationMs > tally.maxMs) tally.maxMs = durationMs;
    tally.histogram[histogramIndex(durationMs)]!++;
    if (this.#timer === undefined && !this.#closed) this.#arm();
  };

  /** Writes every count held (after any flush under way); resolves once they are stored or put back. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#flushing = this.#flushing.then(() => this.#flushOnce());
    return this.#flushing;
  }

  /** The last 24 hours of a queue, as the store has them (call `flush` first to include this process's latest). */
  async figures(queue: string): Promise<QueueFigures> {
    return figuresOf(await this.#store.listRecords(namespaceOf(queue)), this.#clock.now());
  }

  /** Counts held in memory and not yet stored, for a queue (what a crash now would lose). */
  unflushed(queue: string): number {
    let n = 0;
    for (const tally of this.#pending.get(queue)?.values() ?? []) n += tally.completed + tally.retried + tally.failed;
    return n;
  }

  /** Stops the timer and writes what is held; counts made later are held until a `flush`. */
  close(): Promise<void> {
    this.#closed = true;
    return this.flush();
  }

  #arm(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#flushMs);
  }

  #tallyFor(queue: string, hour: number): Tally {
    let hours = this.#pending.get(queue);
    if (!hours) this.#pending.set(queue, hours = new Map());
    let tally = hours.get(hour);
    if (!tally) hours.set(hour, tally = new Tally());
    this.#last = { queue, hour, tally };
    return tally;
  }

  async #flushOnce(): Promise<void> {
    const pending = this.#pending;
    if (pending.size === 0) return;
    this.#pending = new Map();
    this.#last = undefined;
    const writes: Promise<void>[] = [];
    let failure: unknown;
    for (const [queue, hours] of pending) {
      for (const [hour, tally] of hours) {
        writes.push(this.#add(queue, hour, tally).then(
          (stored) => stored ? undefined : this.#putBack(queue, hour, tally),
          (error) => {
            failure ??= error;
            this.#putBack(queue, hour, tally);
          },
        ));
      }
    }
    await Promise.all(writes);
    if (failure !== undefined) {
      if (!this.#failing) this.#reportError(failure);
      this.#failing = true;
    } else {
      this.#failing = false;
      await Promise.all([...pending.keys()].map((queue) => this.#prune(queue)));
    }
    // Counts put back are tried again after another interval; once closed, only by a `flush`
    // (a closed store would fail forever, and a timer would keep the process alive).
    if (this.#pending.size > 0 && this.#timer === undefined && !this.#closed) this.#arm();
  }

  /** Read, add, swap; again on a conflict. False when it kept losing to other writers. */
  async #add(queue: string, hour: number, tally: Tally): Promise<boolean> {
    const namespace = namespaceOf(queue), key = hourKey(hour);
    for (let i = 0; i < MAX_SWAPS; i++) {
      const stored = await this.#store.getRecord<StatsBucket>(namespace, key);
      if (await this.#store.compareAndSetRecord(namespace, key, stored, mergeBucket(stored, tally, hour))) return true;
    }
    return false;
  }

  #putBack(queue: string, hour: number, tally: Tally): void {
    this.#tallyFor(queue, hour).add(tally);
    this.#last = undefined;
  }

  /** Once an hour per queue: deletes buckets past KEEP_BUCKETS_MS (whichever process gets there). */
  async #prune(queue: string): Promise<void> {
    const now = this.#clock.now();
    if (now - (this.#prunedAt.get(queue) ?? -Infinity) < HOUR_MS) return;
    this.#prunedAt.set(queue, now);
    const oldest = hourKey(hourOf(now - KEEP_BUCKETS_MS));
    try {
      const records = await this.#store.listRecords(namespaceOf(queue));
      await Promise.all(records.filter(({ key }) => key < oldest).map(({ key }) => this.#store.deleteRecord(namespaceOf(queue), key)));
    } catch {
      this.#prunedAt.delete(queue); // tried again after the next flush
    }
  }
}
