import { CallGuard, DEFAULT_CALL_TIMEOUT_MS } from "../store/redis/availability.ts";
import { closeClient, connect, type RedisClient, type RedisConnection } from "../store/redis/connection.ts";
import { LuaScript } from "../store/redis/scripts.ts";
import type { RateLimitBackend } from "../core/rate-limit-backend.ts";
import type { RateLimitDecision, RateLimitRule } from "../core/rate-limit-rules.ts";

/*
 * One script per algorithm: read, decide and record in one round trip, atomically, so every
 * process sharing the Redis shares the limit. Time is the caller's `now` (ARGV), so nodes need
 * clocks in step (NTP); each key expires once it no longer limits anything.
 *
 * Calls reach Redis in an order their `now`s need not follow (a process reads its clock, then
 * runs late): the sliding window and the bucket are written so that a late arrival is judged
 * correctly rather than slipping through (see each).
 *
 * Every consume script returns { allowed (0/1), remaining, resetMs, retryAfterMs }.
 */

// KEYS[1] counter of the current window   ARGV: limit, windowMs, cost, now
const FIXED_WINDOW = `
local limit, window, cost, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local key = KEYS[1] .. ':' .. math.floor(now / window)
local used = tonumber(redis.call('GET', key) or '0')
local reset = (math.floor(now / window) + 1) * window - now
if used + cost > limit then return {0, limit - used, reset, reset} end
used = redis.call('INCRBY', key, cost)
redis.call('PEXPIRE', key, reset)
return {1, limit - used, reset, 0}
`;

// KEYS[1] sorted set of uses (score = time)   ARGV: limit, windowMs, cost, now, unique member prefix
// A request counts every use less than a window away on either side of its time, and uses are
// kept for two windows: one stamped earlier than uses already recorded (by up to a window) still
// sees all it shares a window with, so no window ever holds more than the limit. In time order
// this is the plain sliding window.
const SLIDING_WINDOW = `
local limit, window, cost, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 2 * window)
local from, to = '(' .. (now - window), '(' .. (now + window)
local used = redis.call('ZCOUNT', KEYS[1], from, to)
if used + cost > limit then
  local need = used + cost - limit
  local freeing = redis.call('ZRANGEBYSCORE', KEYS[1], from, to, 'WITHSCORES', 'LIMIT', need - 1, 1)
  local at = tonumber(freeing[2] or now)
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  return {0, math.max(0, limit - used), tonumber(newest[2] or now) + window - now, math.max(1, at + window - now)}
end
for i = 1, cost do redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], 2 * window)
return {1, limit - used - cost, window, 0}
`;

// KEYS[1] hash { tokens, at }   ARGV: capacity, refillPerSecond, cost, now
// Tokens are kept as a decimal string: Lua numbers become integers on their way back to Redis.
// `at` never goes back, so a late request cannot make the next one refill the same time twice.
const TOKEN_BUCKET = `
local capacity, rate, cost, now = tonumber(ARGV[1]), tonumber(ARGV[2]) / 1000, tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1] or capacity), tonumber(state[2] or now)
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 end
local reset = math.ceil((capacity - tokens) / rate)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', math.max(now, at))
redis.call('PEXPIRE', KEYS[1], reset + 1)
local retry = 0
if allowed == 0 then retry = math.max(1, math.ceil((cost - tokens) / rate)) end
return {allowed, math.floor(tokens), reset, retry}
`;

/*
 * Refunds: give back units an allowed request took at `at` (ARGV: limit or capacity, windowMs,
 * cost, at). A window that is over has nothing left to give back.
 */
const REFUNDS = {
  "fixed-window": `
local key = KEYS[1] .. ':' .. math.floor(tonumber(ARGV[4]) / tonumber(ARGV[2]))
local used = tonumber(redis.call('GET', key) or '0')
if used > 0 then redis.call('DECRBY', key, math.min(used, tonumber(ARGV[3]))) end
`,
  // Any uses recorded at that same time are alike: removing these or others frees the same room.
  "sliding-window": `
local uses = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[4], ARGV[4], 'LIMIT', 0, tonumber(ARGV[3]))
if #uses > 0 then redis.call('ZREM', KEYS[1], unpack(uses)) end
`,
  "token-bucket": `
local tokens = redis.call('HGET', KEYS[1], 'tokens')
if tokens then
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', math.min(tonumber(ARGV[1]), tonumber(tokens) + tonumber(ARGV[3]))))
end
`,
} as const;

const SCRIPTS = {
  "fixed-window": new LuaScript("rate-limit:fixed-window", FIXED_WINDOW, ""),
  "sliding-window": new LuaScript("rate-limit:sliding-window", SLIDING_WINDOW, ""),
  "token-bucket": new LuaScript("rate-limit:token-bucket", TOKEN_BUCKET, ""),
} as const;

const REFUND_SCRIPTS = {
  "fixed-window": new LuaScript("rate-limit:refund-fixed-window", REFUNDS["fixed-window"], ""),
  "sliding-window": new LuaScript("rate-limit:refund-sliding-window", REFUNDS["sliding-window"], ""),
  "token-bucket": new LuaScript("rate-limit:refund-token-bucket", REFUNDS["token-bucket"], ""),
} as const;

export interface RedisRateLimitOptions {
  /** An ioredis client, a `redis://` URL, or an unstorage storage on the redis driver. */
  connection: RedisConnection;
  /** First part of every key. @default "conveyor:rl" */
  prefix?: string;
  /**
   * How long a decision may wait for Redis (to reconnect, then to answer) before it rejects with
   * a ConveyorError `STORE_UNAVAILABLE`. @default 10_000
   */
  callTimeoutMs?: number;
}

/** Limits shared by every process on one Redis: each decision is one atomic Lua call. */
export class RedisRateLimitBackend implements RateLimitBackend {
  readonly sharedAcrossProcesses = true;
  readonly #connection: Promise<{ client: RedisClient; owned: boolean }>;
  readonly #prefix: string;
  readonly #guard: CallGuard;

  constructor(options: RedisRateLimitOptions) {
    const timeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new TypeError(`RedisRateLimitBackend: callTimeoutMs must be a whole number of ms, at least 1, got ${timeoutMs}`);
    }
    this.#connection = connect(options.connection);
    this.#connection.catch(() => {});
    this.#prefix = options.prefix ?? "conveyor:rl";
    this.#guard = new CallGuard(timeoutMs, "Redis (rate limits)");
  }

  async consume(key: string, rule: RateLimitRule, cost: number, now: number): Promise<RateLimitDecision> {
    const { client } = await this.#connection;
    const args = rule.algorithm === "token-bucket"
      ? [rule.capacity, rule.refillPerSecond, cost, now]
      : [rule.limit, rule.windowMs, cost, now, ...(rule.algorithm === "sliding-window" ? [`${now}:${crypto.randomUUID()}`] : [])];
    const reply = await this.#guard.run(client, () => SCRIPTS[rule.algorithm].run(client, [this.#key(key, rule)], args));
    const [allowed, remaining, resetMs, retryAfterMs] = reply as number[];
    const limit = rule.algorithm === "token-bucket" ? rule.capacity : rule.limit;
    return { allowed: allowed === 1, limit, remaining: Math.max(0, remaining!), resetMs: Math.max(0, resetMs!), retryAfterMs: retryAfterMs! };
  }

  async refund(key: string, rule: RateLimitRule, cost: number, at: number): Promise<void> {
    const { client } = await this.#connection;
    const args = rule.algorithm === "token-bucket" ? [rule.capacity, 0, cost, at] : [rule.limit, rule.windowMs, cost, at];
    await this.#guard.run(client, () => REFUND_SCRIPTS[rule.algorithm].run(client, [this.#key(key, rule)], args));
  }

  /** Read as the consume scripts count, without writing (plain reads: nothing to make atomic). */
  async used(key: string, rule: RateLimitRule, now: number): Promise<number> {
    const { client } = await this.#connection;
    const redisKey = this.#key(key, rule);
    if (rule.algorithm === "fixed-window") {
      return Number(await this.#guard.run(client, () => client.call("GET", `${redisKey}:${Math.floor(now / rule.windowMs)}`)) ?? 0);
    }
    if (rule.algorithm === "sliding-window") {
      return Number(await this.#guard.run(client, () => client.call("ZCOUNT", redisKey, `(${now - rule.windowMs}`, `(${now + rule.windowMs}`)));
    }
    const [tokens, at] = await this.#guard.run(client, () => client.call("HMGET", redisKey, "tokens", "at")) as [string | null, string | null];
    if (tokens === null) return 0;
    const refilled = Math.min(rule.capacity, Number(tokens) + Math.max(0, now - Number(at ?? now)) * rule.refillPerSecond / 1_000);
    return rule.capacity - Math.floor(refilled + 1e-9);
  }

  async close(): Promise<void> {
    const { client, owned } = await this.#connection.catch(() => ({ client: undefined, owned: false }));
    if (owned && client) await closeClient(client);
  }

  #key(key: string, rule: RateLimitRule): string {
    return `${this.#prefix}:${rule.algorithm}:{${key}}`;
  }
}
