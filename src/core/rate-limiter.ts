import { type Clock, systemClock } from "./clock.ts";
import { parseArgument } from "./validation.ts";
import { MemoryRateLimitBackend } from "./rate-limit-memory.ts";
import { type RateLimitDecision, type RateLimitRule, RateLimitRuleSchema, ruleLimit } from "./rate-limit-rules.ts";
import type { RateLimitBackend } from "./rate-limit-backend.ts";

export type { RateLimitBackend } from "./rate-limit-backend.ts";

/** One request of `RateLimiter.consumeAll`: `cost` units for `key` from `limiter`. */
export interface RateLimitRequest {
  readonly limiter: RateLimiter;
  readonly key: string;
  /** @default 1 */
  readonly cost?: number;
}

export interface RateLimitOutcome {
  /** Index in the requests of the one that refused, or null when every one allowed. */
  readonly refused: number | null;
  /** The decisions made, in order, up to and including the refusal. */
  readonly decisions: readonly RateLimitDecision[];
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
    return (await this.#take(key, cost)).decision;
  }

  /**
   * How much of `key`'s allowance is in use now, without taking any: `null` when the backend
   * cannot tell (it has no `used`).
   */
  async usage(key: string): Promise<{ used: number; limit: number } | null> {
    if (!this.backend.used) return null;
    const limit = ruleLimit(this.rule);
    return { used: Math.min(limit, Math.max(0, await this.backend.used(key, this.rule, this.#clock.now()))), limit };
  }

  /**
   * Takes units from several limits, all or none: requests are decided in order, and when one
   * refuses (or its backend fails) the units the ones before it took are given back, so a
   * request held back by one limit spends nothing of the others. (Given back by backends that
   * can: both built-in ones do.) A failure is thrown once the earlier units are given back.
   */
  static async consumeAll(requests: readonly RateLimitRequest[]): Promise<RateLimitOutcome> {
    const taken: { limiter: RateLimiter; key: string; cost: number; at: number }[] = [];
    const decisions: RateLimitDecision[] = [];
    try {
      for (const [index, { limiter, key, cost = 1 }] of requests.entries()) {
        const { decision, at } = await limiter.#take(key, cost);
        decisions.push(decision);
        if (!decision.allowed) {
          await RateLimiter.#giveBack(taken);
          return { refused: index, decisions };
        }
        taken.push({ limiter, key, cost, at });
      }
    } catch (error) {
      await RateLimiter.#giveBack(taken).catch(() => {}); // the first failure is the one to report
      throw error;
    }
    return { refused: null, decisions };
  }

  async #take(key: string, cost: number): Promise<{ decision: RateLimitDecision; at: number }> {
    if (typeof key !== "string" || key.length === 0) throw new TypeError("consume() expects a non-empty key");
    if (!Number.isInteger(cost) || cost < 1) throw new RangeError(`consume() cost must be a whole number, at least 1, got ${cost}`);
    const at = this.#clock.now();
    return { decision: await this.backend.consume(key, this.rule, cost, at), at };
  }

  static async #giveBack(taken: readonly { limiter: RateLimiter; key: string; cost: number; at: number }[]): Promise<void> {
    await Promise.all(taken.map(({ limiter, key, cost, at }) => limiter.backend.refund?.(key, limiter.rule, cost, at)));
  }
}
