import * as v from "valibot";
import { DEFAULT_CALL_TIMEOUT_MS } from "./availability.ts";
import type { RedisConnection } from "./connection.ts";
import type { LeaseClock } from "./lua/lease-clock.ts";

export type { LeaseClock };

export interface RedisStoreOptions {
  /** An ioredis client, a `redis://` URL (ioredis is then loaded and owned by the store), or an unstorage storage on the redis driver. */
  connection: RedisConnection;
  /** Prefix of every key; each queue's keys share a `{queue}` hash tag, so one queue lives in one cluster slot. @default "conveyor" */
  prefix?: string;
  /**
   * Whose clock times leases. `"server"`: Redis's own clock grants, renews and expires every
   * lease, so a call Redis runs late (a paused server, calls queued through an outage) cannot
   * hand out a lease that has already run out, and workers whose clocks disagree cannot take each
   * other's valid leases; `Job.lease.expiresAt` is then in the Redis server's clock. `"caller"`:
   * the `now` each call passes, for driving the store with fake time (a FakeClock, the
   * conformance suite); safe only when every worker's clock agrees and Redis answers promptly.
   * Other times (start, end, due times, events) are always the caller's. @default "server"
   */
  leaseClock?: LeaseClock;
  /**
   * One hash tag for all the store's queues, instead of one per queue: on a Redis Cluster every
   * queue then lives in the same slot, so a chain or flow spanning queues runs there (its script
   * touches all of them at once). Without it queues spread over the cluster's masters, and a
   * workflow must keep to one queue. Letters, digits, `.`, `_` and `-`. @default none
   */
  slotTag?: string;
  /**
   * How long a call may wait for Redis (to reconnect, then to answer) before it rejects with a
   * ConveyorError `STORE_UNAVAILABLE`; calls succeed again once Redis is back. A call that timed
   * out before it could be sent never runs; one sent and not answered in time may still run.
   * @default 10_000
   */
  callTimeoutMs?: number;
}

export const REDIS_STORE_DEFAULTS = Object.freeze({
  prefix: "conveyor",
  leaseClock: "server" as LeaseClock,
  callTimeoutMs: DEFAULT_CALL_TIMEOUT_MS,
});

export const RedisStoreOptionsSchema = v.object({
  prefix: v.optional(v.string()),
  leaseClock: v.optional(v.picklist(["server", "caller"])),
  slotTag: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,100}$/, "a slot tag of 1 to 100 letters, digits, '.', '_' or '-'"))),
  callTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});
