/**
 * Time is injected so that delays, retries, leases and timeouts can be tested with a fake
 * clock. Handles are opaque: each clock only gets back the handles it gave out.
 */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Calls `callback` once, `delayMs` from now. Any non-negative delay must work, including ones
   * past 2^31−1 ms (~24.8 days), which runtimes' own timers fire at once; `Infinity` never fires.
   */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Told of work in flight whose answer is judged by time (a lease renewal, a claim). Real
   * clocks leave this out; a clock that moves only when told (FakeClock) may hold time still
   * until the work answers, so a network round trip does not look seconds long in fake time.
   */
  track?<T>(work: Promise<T>): Promise<T>;
}

/** The longest delay every runtime's `setTimeout` honours; longer ones fire after 1 ms in Node. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

type RuntimeHandle = ReturnType<typeof globalThis.setTimeout>;

/** A timer that may outlive one runtime timer: it re-arms in steps until its time comes. */
interface SteppedTimer {
  current: RuntimeHandle | undefined;
}

function armStepped(timer: SteppedTimer, callback: () => void, dueAt: number): void {
  const remaining = dueAt - Date.now();
  if (remaining > MAX_TIMER_DELAY_MS) {
    timer.current = globalThis.setTimeout(() => armStepped(timer, callback, dueAt), MAX_TIMER_DELAY_MS);
  } else {
    timer.current = globalThis.setTimeout(callback, Math.max(0, remaining));
  }
}

/** The runtime's own clock and timers (Web APIs only). */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: SteppedTimer = { current: undefined };
    // NaN counts as "now", as the runtimes do; Infinity never fires (and holds no runtime timer).
    const delay = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs);
    if (delay === Infinity) return timer;
    if (delay <= MAX_TIMER_DELAY_MS) timer.current = globalThis.setTimeout(callback, delay);
    else armStepped(timer, callback, Date.now() + delay);
    return timer;
  },
  clearTimeout(handle: TimerHandle): void {
    const current = (handle as SteppedTimer | undefined)?.current;
    if (current !== undefined) globalThis.clearTimeout(current);
  },
});
