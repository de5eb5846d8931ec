import { closeClient, connect, type RedisClient, type RedisConnection } from "../store/redis/connection.ts";
import { LuaScript } from "../store/redis/scripts.ts";
import type { RateLimitBackend } from "./limiter.ts";
import type { RateLimitDecision, RateLimitRule } from "./rules.ts";

/*
 * One script per algorithm: read, decide and record in one round trip, atomically, so every
 * process sharing the Redis shares the limit. Time is the caller's `now` (ARGV), so nodes need
 * clocks in step (NTP); each key expires once it no longer limits anything.
 *
 * Every script returns { allowed (0/1), remaining, resetMs, retryAfterMs }.
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
const SLIDING_WINDOW = `
local limit, window, cost, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used + cost > limit then
  local need = used + cost - limit
  local freeing = redis.call('ZRANGE', KEYS[1], need - 1, need - 1, 'WITHSCORES')
  local at = tonumber(freeing[2] or now)
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  return {0, math.max(0, limit - used), tonumber(newest[2] or now) + window - now, math.max(1, at + window - now)}
end
for i = 1, cost do redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - used - cost, window, 0}
`;

// KEYS[1] hash { tokens, at }   ARGV: capacity, refillPerSecond, cost, now
// Tokens are kept as a decimal string: Lua numbers become integers on their way back to Redis.
const TOKEN_BUCKET = `
local capacity, rate, cost, now = tonumber(ARGV[1]), tonumber(ARGV[2]) / 1000, tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1] or capacity), tonumber(state[2] or now)
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 end
local reset = math.ceil((capacity - tokens) / rate)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], reset + 1)
local retry = 0
if allowed == 0 then retry = math.max(1, math.ceil((cost - tokens) / rate)) end
return {allowed, math.floor(tokens), reset, retry}
`;

const SCRIPTS = {
  "fixed-window": new LuaScript("rate-limit:fixed-window", FIXED_WINDOW, ""),
  "sliding-window": new LuaScript("rate-limit:sliding-window", SLIDING_WINDOW, ""),
  "token-bucket": new LuaScript("rate-limit:token-bucket", TOKEN_BUCKET, ""),
} as const;

export interface RedisRateLimitOptions {
  /** An ioredis client, a `redis://` URL, or an unstorage storage on the redis driver. */
  connection: RedisConnection;
  /** First part of every key. @default "conveyor:rl" */
  prefix?: string;
}

/** Limits shared by every process on one Redis: each decision is one atomic Lua call. */
export class RedisRateLimitBackend implements RateLimitBackend {
  readonly sharedAcrossProcesses = true;
  readonly #connection: Promise<{ client: RedisClient; owned: boolean }>;
  readonly #prefix: string;

  constructor(options: RedisRateLimitOptions) {
    this.#connection = connect(options.connection);
    this.#connection.catch(() => {});
    this.#prefix = options.prefix ?? "conveyor:rl";
  }

  async consume(key: string, rule: RateLimitRule, cost: number, now: number): Promise<RateLimitDecision> {
    const { client } = await this.#connection;
    const redisKey = `${this.#prefix}:${rule.algorithm}:{${key}}`;
    const args = rule.algorithm === "token-bucket"
      ? [rule.capacity, rule.refillPerSecond, cost, now]
      : [rule.limit, rule.windowMs, cost, now, ...(rule.algorithm === "sliding-window" ? [`${now}:${crypto.randomUUID()}`] : [])];
    const [allowed, remaining, resetMs, retryAfterMs] = await SCRIPTS[rule.algorithm].run(client, [redisKey], args) as number[];
    const limit = rule.algorithm === "token-bucket" ? rule.capacity : rule.limit;
    return { allowed: allowed === 1, limit, remaining: Math.max(0, remaining!), resetMs: Math.max(0, resetMs!), retryAfterMs: retryAfterMs! };
  }

  async close(): Promise<void> {
    const { client, owned } = await this.#connection.catch(() => ({ client: undefined, owned: false }));
    if (owned && client) await closeClient(client);
  }
}
