import { type Clock, systemClock } from "../core/clock.ts";
import { parseArgument } from "../core/validation.ts";
import { MemoryRateLimitBackend } from "./memory.ts";
import { type RateLimitDecision, type RateLimitRule, RateLimitRuleSchema } from "./rules.ts";

/** Where a limiter keeps its counts: this process's memory, or a Redis every process shares. */
export interface RateLimitBackend {
  readonly sharedAcrossProcesses: boolean;
  /** Decides and records one request of `cost` units for `key`, atomically. */
  consume(key: string, rule: RateLimitRule, cost: number, now: number): Promise<RateLimitDecision>;
  close(): Promise<void>;
}

export interface RateLimiterOptions {
  rule: RateLimitRule;
  /** @default a new MemoryRateLimitBackend */
  backend?: RateLimitBackend;
  /** @default systemClock */
  clock?: Clock;
}

/** One rule applied per key (a user, an address, a queue, a tenant …). */
export class RateLimiter {
  readonly rule: RateLimitRule;
  readonly backend: RateLimitBackend;
  readonly #clock: Clock;

  constructor(options: RateLimiterOptions) {
    this.rule = parseArgument(RateLimitRuleSchema, options?.rule, "rate limit rule") as RateLimitRule;
    this.backend = options.backend ?? new MemoryRateLimitBackend();
    this.#clock = options.clock ?? systemClock;
  }

  /** Takes `cost` units for `key` if they are there; says how many are left and when to retry. */
  async consume(key: string, cost = 1): Promise<RateLimitDecision> {
    if (typeof key !== "string" || key.length === 0) throw new TypeError("consume() expects a non-empty key");
    if (!Number.isInteger(cost) || cost < 1) throw new RangeError(`consume() cost must be a whole number, at least 1, got ${cost}`);
    return await this.backend.consume(key, this.rule, cost, this.#clock.now());
  }
}
