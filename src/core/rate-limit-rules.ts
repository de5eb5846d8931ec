import * as v from "valibot";

/**
 * How much is allowed:
 * - `fixed-window`: `limit` per calendar window of `windowMs` (cheap; bursts of 2× at a boundary);
 * - `sliding-window`: at most `limit` in any `windowMs` (exact: each use is remembered);
 * - `token-bucket`: bursts up to `capacity`, refilled at `refillPerSecond`.
 */
export type RateLimitRule =
  | { readonly algorithm: "fixed-window"; readonly limit: number; readonly windowMs: number }
  | { readonly algorithm: "sliding-window"; readonly limit: number; readonly windowMs: number }
  | { readonly algorithm: "token-bucket"; readonly capacity: number; readonly refillPerSecond: number };

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));

export const RateLimitRuleSchema = v.variant("algorithm", [
  v.strictObject({ algorithm: v.literal("fixed-window"), limit: positiveInt, windowMs: positiveInt }),
  v.strictObject({ algorithm: v.literal("sliding-window"), limit: positiveInt, windowMs: positiveInt }),
  v.strictObject({
    algorithm: v.literal("token-bucket"),
    capacity: positiveInt,
    refillPerSecond: v.pipe(v.number(), v.gtValue(0)),
  }),
]);

/** The answer to one request for `cost` units. */
export interface RateLimitDecision {
  readonly allowed: boolean;
  /** The most a key may use at once (limit, or bucket capacity). */
  readonly limit: number;
  /** Units left after this request. */
  readonly remaining: number;
  /** Milliseconds until the key is back to its full allowance. */
  readonly resetMs: number;
  /** When refused: milliseconds until this request could succeed (0 when allowed). */
  readonly retryAfterMs: number;
}

/** The most a rule allows at once. */
export function ruleLimit(rule: RateLimitRule): number {
  return rule.algorithm === "token-bucket" ? rule.capacity : rule.limit;
}
