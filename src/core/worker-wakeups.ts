import type { Clock, TimerHandle } from "./clock.ts";

/**
 * The timers that wake an idle worker: when the earliest delayed job falls due, after a
 * store error, and when the queue-wide rate limit frees up. No polling: one timer per reason.
 */
export class WorkerWakeups {
  readonly #clock: Clock;
  readonly #wake: () => void;
  #due: { handle: TimerHandle; at: number } | undefined;
  #retry: TimerHandle | undefined;
  /** The queue-wide rate limit is used up until then (0: not limited). */
  #limitedUntil = 0;

  constructor(clock: Clock, wake: () => void) {
    this.#clock = clock;
    this.#wake = wake;
  }

  /** Wakes the worker at `at`, unless a wake-up is already set for no later. */
  dueAt(at: number | null): void {
    if (at === null) return;
    if (this.#due && this.#due.at <= at) return;
    if (this.#due) this.#clock.clearTimeout(this.#due.handle);
    const handle = this.#clock.setTimeout(() => {
      this.#due = undefined;
      this.#wake();
    }, at - this.#clock.now());
    this.#due = { handle, at };
  }

  /** Wakes the worker once after `delayMs`, however many errors ask for it meanwhile. */
  retryAfter(delayMs: number): void {
    if (this.#retry !== undefined) return;
    this.#retry = this.#clock.setTimeout(() => {
      this.#retry = undefined;
      this.#wake();
    }, delayMs);
  }

  limitUntil(at: number): void {
    this.#limitedUntil = Math.max(this.#limitedUntil, at);
  }

  /** True while the queue-wide rate limit is used up; a due wake-up is set for when it frees. */
  holdingForLimit(): boolean {
    if (this.#limitedUntil === 0) return false; // the pump's fast path: no clock read
    if (this.#limitedUntil <= this.#clock.now()) {
      this.#limitedUntil = 0;
      return false;
    }
    this.dueAt(this.#limitedUntil);
    return true;
  }

  clear(): void {
    if (this.#due) this.#clock.clearTimeout(this.#due.handle);
    if (this.#retry !== undefined) this.#clock.clearTimeout(this.#retry);
    this.#due = undefined;
    this.#retry = undefined;
  }
}
