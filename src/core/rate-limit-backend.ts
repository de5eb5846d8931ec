import type { RateLimitDecision, RateLimitRule } from "./rate-limit-rules.ts";

/** Where a limiter keeps its counts: this process's memory, or a Redis every process shares. */
export interface RateLimitBackend {
  readonly sharedAcrossProcesses: boolean;
  /** Decides and records one request of `cost` units for `key`, atomically. */
  consume(key: string, rule: RateLimitRule, cost: number, now: number): Promise<RateLimitDecision>;
  /**
   * Gives back the `cost` units an allowed `consume` took for `key` at `now` = `at`, as if it
   * had not been made; nothing once they no longer count (their window is over). Optional: a
   * backend without it keeps what it took when `RateLimiter.consumeAll` is refused further on.
   */
  refund?(key: string, rule: RateLimitRule, cost: number, at: number): Promise<void>;
  /**
   * Units `key` has in use at `now`, read without taking any (for health reports). Optional: a
   * backend without it is reported with its limit and no current figure.
   */
  used?(key: string, rule: RateLimitRule, now: number): Promise<number>;
  close(): Promise<void>;
}
