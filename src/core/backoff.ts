import type { StoredBackoff } from "./job.ts";

/** Computes the delay before retry number `attempt` (1 = the first retry) after `error`. */
export type BackoffFunction = (attempt: number, error: unknown) => number;

/** Backoff as callers write it. */
export type Backoff =
  | { type: "fixed"; delayMs: number }
  | {
    type: "exponential";
    /** Delay before the first retry; doubles each retry. */
    delayMs: number;
    /** Upper bound on any one delay. @default no limit */
    maxDelayMs?: number;
    /** Fraction of each delay that is randomised away (0–1), to spread retries out. @default 0 */
    jitter?: number;
  }
  | BackoffFunction;

export const NO_BACKOFF: StoredBackoff = Object.freeze({ type: "fixed", delayMs: 0 });

export function storedBackoff(backoff: Backoff | undefined): StoredBackoff {
  if (backoff === undefined) return NO_BACKOFF;
  if (typeof backoff === "function") return { type: "custom" };
  if (backoff.type === "fixed") return { type: "fixed", delayMs: backoff.delayMs };
  return {
    type: "exponential",
    delayMs: backoff.delayMs,
    maxDelayMs: backoff.maxDelayMs ?? null,
    jitter: backoff.jitter ?? 0,
  };
}

/**
 * Milliseconds to wait before retry number `retry` (1-based). `custom` uses the definition's
 * function; a custom backoff without one (a definition changed since enqueue) retries at once.
 */
export function backoffDelay(
  backoff: StoredBackoff,
  retry: number,
  error: unknown,
  custom: BackoffFunction | undefined,
  random: () => number = Math.random,
): number {
  switch (backoff.type) {
    case "fixed":
      return backoff.delayMs;
    case "exponential": {
      const raw = backoff.delayMs * 2 ** (retry - 1);
      const capped = backoff.maxDelayMs === null ? raw : Math.min(raw, backoff.maxDelayMs);
      return Math.round(capped * (1 - backoff.jitter * random()));
    }
    case "custom": {
      const delay = custom ? custom(retry, error) : 0;
      return Number.isFinite(delay) && delay > 0 ? delay : 0;
    }
  }
}
