/**
 * Redis for Conveyor: `RedisStore` (queues shared by any number of worker processes) and
 * `RedisRateLimitBackend` (limits shared across processes). Needs the `ioredis` package, or a
 * client you pass in.
 * @module
 */
export { type LeaseClock, RedisStore, type RedisStoreOptions } from "./src/store/redis/store.ts";
export type { RedisBackedStorage, RedisClient, RedisConnection } from "./src/store/redis/connection.ts";
export { RedisRateLimitBackend, type RedisRateLimitOptions } from "./src/rate-limit/redis.ts";
