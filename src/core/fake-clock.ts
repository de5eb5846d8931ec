import type { Clock, TimerHandle } from "./clock.ts";

interface PendingTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/** Lets pending promise callbacks and I/O settle, using a real timer. */
const settleFor = (ms: number) => () => new Promise<void>((resolve) => globalThis.setTimeout(resolve, ms));

export interface FakeClockOptions {
  /** Where time starts. @default 2026-01-01T00:00:00Z */
  startMs?: number;
  /**
   * Real milliseconds to wait after each timer fires, so work that crosses a network (a Redis
   * round trip) settles before time moves on. @default 0 (one macrotask)
   */
  settleMs?: number;
  /**
   * Real milliseconds `advance` waits, before firing each timer, for work handed to `track`
   * (store calls a worker judges by time) to answer. For stores across a network. @default 0
   */
  trackedWaitMs?: number;
}

/**
 * A clock whose time moves only when told. `advance` fires due timers in order and lets the
 * async work they start settle before moving on, so code under test behaves as it would with
 * real time passing, only instantly.
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, PendingTimer>();
  readonly #settle: () => Promise<void>;
  readonly #trackedWaitMs: number;
  readonly #tracked = new Set<Promise<unknown>>();

  constructor(options: FakeClockOptions = {}) {
    this.#now = options.startMs ?? Date.UTC(2026, 0, 1);
    this.#settle = settleFor(options.settleMs ?? 0);
    this.#trackedWaitMs = options.trackedWaitMs ?? 0;
  }

  track<T>(work: Promise<T>): Promise<T> {
    if (this.#trackedWaitMs === 0) return work;
    const settled = work.then(() => {}, () => {});
    this.#tracked.add(settled);
    void settled.then(() => this.#tracked.delete(settled));
    return work;
  }

  /** Waits (in real time, up to `trackedWaitMs`) for tracked work to answer. */
  async #awaitTracked(): Promise<void> {
    if (this.#tracked.size === 0) return;
    let timer: ReturnType<typeof globalThis.setTimeout> | undefined;
    const limit = new Promise<void>((resolve) => timer = globalThis.setTimeout(resolve, this.#trackedWaitMs));
    for (let round = 0; round < 10 && this.#tracked.size > 0; round++) {
      const done = await Promise.race([Promise.all([...this.#tracked]).then(() => true), limit.then(() => false)]);
      if (!done) break;
      await this.#settle(); // answers start more work, which may be tracked too
    }
    globalThis.clearTimeout(timer);
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + (Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs)), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Number of timers still waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance() expects a non-negative number of ms, got ${ms}`);
    const target = this.#now + ms;
    await this.#settle();
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > target) break;
      await this.#awaitTracked();
      if (!this.#timers.has(next.id)) continue; // cleared by what answered
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      await this.#settle();
    }
    this.#now = target;
    await this.#settle();
  }

  /**
   * Lets already-started async work settle without moving time. Timers that work set for the
   * present moment fire too, as real ones would: a store that answers after `advance` returned
   * may ask to be woken "now".
   */
  async flush(rounds = 3): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await this.#settle();
      for (let next = this.#earliest(); next && next.at <= this.#now; next = this.#earliest()) {
        this.#timers.delete(next.id);
        next.callback();
        await this.#settle();
      }
    }
  }

  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    }
    return best;
  }
}
