// The Redis broadcast backend's heartbeats and dead-node sweep on a FakeClock (heartbeatClock:
// "caller"), against a real redis-server: a node whose heartbeat stopped is swept exactly when
// nodeTimeoutMs has passed, without waiting for it. (SIGKILLed processes on Redis's own clock:
// broadcast-redis.test.ts.)
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FakeClock } from "../mod.ts";
import { Broadcaster, RedisBroadcastBackend } from "../broadcast.ts";
import { waitUntil } from "./support/harness.ts";
import { APP } from "./support/broadcast-server.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

const TIMING = { heartbeatMs: 1_000, nodeTimeoutMs: 3_000, heartbeatClock: "caller" } as const;

/** Fake time that waits (in real time) for heartbeats and sweeps in flight before firing the next timer. */
const fakeClock = () => new FakeClock({ settleMs: 2, trackedWaitMs: 2_000 });

describe("Redis broadcast heartbeats on a fake clock", () => {
  let redis: RedisServer;
  const closing: { close(): Promise<void> }[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const item of closing.reverse()) await item.close();
    await redis?.stop();
  });

  function backend(clock: FakeClock, prefix: string): RedisBroadcastBackend {
    const made = new RedisBroadcastBackend({ connection: redis.url, prefix, clock, ...TIMING });
    closing.push(made);
    return made;
  }

  test("nodes that keep beating on the fake clock are never swept, however long it runs", async () => {
    const prefix = `beat-${crypto.randomUUID().slice(0, 8)}`;
    const clock = fakeClock();
    const a = backend(clock, prefix);
    const b = backend(clock, prefix);
    await Promise.all([a.start(() => {}), b.start(() => {})]);
    await a.join("presence-room", "1.1", { user_id: "ann", user_info: null });
    await clock.advance(10 * TIMING.nodeTimeoutMs);
    assert.deepEqual(await b.sweep(), []);
    assert.deepEqual((await b.members("presence-room")).map((m) => m.user_id), ["ann"]);
  });

  test("a node whose heartbeat stopped is swept when nodeTimeoutMs has passed on the fake clock, not before", async () => {
    const prefix = `dead-${crypto.randomUUID().slice(0, 8)}`;
    // Node A's clock never moves again after its first heartbeat: to the others it has gone silent.
    const frozen = fakeClock();
    const a = backend(frozen, prefix);
    await a.start(() => {});
    await a.join("presence-room", "1.1", { user_id: "ann", user_info: null });

    // Node B: a broadcaster whose liveness timer sweeps every 500 ms of fake time.
    const clock = fakeClock();
    const broadcaster = new Broadcaster({ ...APP, backend: backend(clock, prefix), clock, activityTimeoutSec: 2 });
    closing.push(broadcaster);
    await broadcaster.ready();
    const frames: { event: string; data: string }[] = [];
    const connection = broadcaster.accept({ send: (text) => void frames.push(JSON.parse(text)), close: () => {} }, { key: APP.key, protocol: "7" })!;
    await broadcaster.subscribe(connection, "presence-room", { user_id: "bea", user_info: null });
    const removed = () => frames.filter((f) => f.event === "pusher_internal:member_removed").map((f) => JSON.parse(f.data).user_id);

    await clock.advance(TIMING.nodeTimeoutMs - 1);
    assert.deepEqual(await broadcaster.backend.sweep(), [], "A's heartbeat has 1 ms left");
    assert.deepEqual(removed(), []);
    assert.deepEqual((await broadcaster.members("presence-room")).map((m) => m.user_id).sort(), ["ann", "bea"]);

    await clock.advance(1); // B's liveness check at nodeTimeoutMs sweeps A's member away
    await waitUntil(() => removed().length > 0, 5_000, "member_removed for ann");
    assert.deepEqual(removed(), ["ann"]);
    assert.deepEqual((await broadcaster.members("presence-room")).map((m) => m.user_id), ["bea"]);
  });
});
