import type { Clock } from "./clock.ts";

/** What a bounded wait ended with. */
export type Bounded<T> =
  | { readonly done: true; readonly value: T }
  | { readonly done: false; readonly error: unknown }
  | { readonly done: false; readonly timedOut: true };

/**
 * Waits for `work` up to `ms` on `clock` (a FakeClock moves it in tests), never longer: a store
 * call that never answers must not hold up a health report. What was asked goes on; its answer
 * is dropped. `signal`, when given, is aborted once the time is up, so work that can stop does.
 */
export function within<T>(clock: Clock, work: () => Promise<T> | T, ms: number, signal?: AbortController): Promise<Bounded<T>> {
  return new Promise((resolve) => {
    let settled = false;
    const timer = clock.setTimeout(() => {
      if (settled) return;
      settled = true;
      signal?.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError"));
      resolve({ done: false, timedOut: true });
    }, Math.max(0, ms));
    const finish = (result: Bounded<T>) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      resolve(result);
    };
    let started: Promise<T>;
    try {
      started = Promise.resolve(work());
    } catch (error) {
      started = Promise.reject(error);
    }
    started.then((value) => finish({ done: true, value }), (error) => finish({ done: false, error }));
  });
}

/** The value of a bounded wait, or `fallback` when it failed or ran out of time. */
export function valueOr<T, F>(result: Bounded<T>, fallback: F): T | F {
  return result.done ? result.value : fallback;
}
