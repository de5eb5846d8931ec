/**
 * Time is injected so that delays, retries, leases and timeouts can be tested with a fake
 * clock. Handles are opaque: each clock only gets back the handles it gave out.
 */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The runtime's own clock and timers (Web APIs only). */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, delayMs: number): TimerHandle =>
    globalThis.setTimeout(callback, Math.max(0, delayMs)),
  clearTimeout: (handle: TimerHandle) =>
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
});
