// Rate limits: the three algorithms on each backend, and workers that start jobs within them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { createConveyor, defineJob, FakeClock, MemoryRateLimitBackend, MemoryStore, type RateLimitBackend, RateLimiter, type RateLimitRule } from "../mod.ts";
import { RedisRateLimitBackend } from "../redis.ts";
import { eventually } from "./support/harness.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";
import { type RedisCluster, startRedisCluster } from "./support/redis-cluster.ts";
import IORedis from "ioredis";

const T0 = Date.UTC(2026, 0, 1);

let redis: RedisServer | undefined;
let cluster: RedisCluster | undefined;
const clusterClients: InstanceType<typeof IORedis.Cluster>[] = [];
const backends: { name: string; create(): RateLimitBackend }[] = [
  { name: "memory", create: () => new MemoryRateLimitBackend() },
  { name: "redis", create: () => new RedisRateLimitBackend({ connection: redis!.url, prefix: `rl-${crypto.randomUUID().slice(0, 8)}` }) },
  {
    name: "redis-cluster",
    create: () => {
      const client = new IORedis.Cluster(cluster!.nodes as { host: string; port: number }[]);
      clusterClients.push(client);
      return new RedisRateLimitBackend({ connection: client as never, prefix: `rl-${crypto.randomUUID().slice(0, 8)}` });
    },
  },
];

for (const backend of backends) {
  describe(`RateLimiter (${backend.name})`, () => {
    before(async () => {
      if (backend.name === "redis") redis = await startRedis();
      if (backend.name === "redis-cluster") cluster = await startRedisCluster();
    });
    after(async () => {
      if (backend.name === "redis") await redis?.stop();
      if (backend.name === "redis-cluster") {
        for (const client of clusterClients) client.disconnect();
        await cluster?.stop();
      }
    });

    async function limiter(rule: RateLimitRule) {
      const clock = new FakeClock({ startMs: T0 + 100 });
      const store = backend.create();
      return { clock, store, limiter: new RateLimiter({ rule, backend: store, clock }) };
    }
    const allowedOf = async (l: RateLimiter, n: number, key = "k") => {
      const out: boolean[] = [];
      for (let i = 0; i < n; i++) out.push((await l.consume(key)).allowed);
      return out;
    };

    test("fixed window: the limit per window, then refused until the next one", async () => {
      const { clock, store, limiter: l } = await limiter({ algorithm: "fixed-window", limit: 3, windowMs: 1_000 });
      assert.deepEqual(await allowedOf(l, 4), [true, true, true, false]);
      const refused = await l.consume("k");
      assert.deepEqual(refused, { allowed: false, limit: 3, remaining: 0, resetMs: 900, retryAfterMs: 900 });
      assert.equal((await l.consume("other")).remaining, 2, "keys are counted apart");
      await clock.advance(900);
      assert.deepEqual(await allowedOf(l, 4), [true, true, true, false]);
      await store.close();
    });

    test("sliding window: never more than the limit in any window, and says when room frees up", async () => {
      const { clock, store, limiter: l } = await limiter({ algorithm: "sliding-window", limit: 3, windowMs: 1_000 });
      assert.deepEqual(await allowedOf(l, 2), [true, true]);
      await clock.advance(600);
      assert.deepEqual(await allowedOf(l, 2), [true, false]);
      const refused = await l.consume("k");
      assert.equal(refused.retryAfterMs, 400, "the first two uses leave the window at +1000 ms");
      await clock.advance(399);
      assert.equal((await l.consume("k")).allowed, false, "not a millisecond early");
      await clock.advance(1);
      assert.deepEqual(await allowedOf(l, 3), [true, true, false]);
      assert.equal((await l.consume("k", 4)).allowed, false, "a cost above the limit is never allowed");
      await store.close();
    });

    test("token bucket: bursts up to capacity, then the refill rate", async () => {
      const { clock, store, limiter: l } = await limiter({ algorithm: "token-bucket", capacity: 5, refillPerSecond: 2 });
      assert.deepEqual(await allowedOf(l, 6), [true, true, true, true, true, false]);
      const refused = await l.consume("k");
      assert.equal(refused.retryAfterMs, 500);
      await clock.advance(500);
      assert.deepEqual(await allowedOf(l, 2), [true, false]);
      await clock.advance(10_000);
      const full = await l.consume("k", 5);
      assert.deepEqual([full.allowed, full.remaining], [true, 0], "refilled to capacity, not beyond");
      await store.close();
    });

    test("refunds give back what a request took, while it still counts", async () => {
      const rules: RateLimitRule[] = [
        { algorithm: "fixed-window", limit: 2, windowMs: 1_000 },
        { algorithm: "sliding-window", limit: 2, windowMs: 1_000 },
        { algorithm: "token-bucket", capacity: 2, refillPerSecond: 0.001 },
      ];
      for (const rule of rules) {
        const store = backend.create();
        const at = T0 + 100;
        assert.ok((await store.consume("k", rule, 2, at)).allowed, rule.algorithm);
        assert.equal((await store.consume("k", rule, 1, at + 1)).allowed, false, `${rule.algorithm}: used up`);
        await store.refund!("k", rule, 1, at);
        assert.equal((await store.consume("k", rule, 1, at + 2)).allowed, true, `${rule.algorithm}: one unit back`);
        assert.equal((await store.consume("k", rule, 1, at + 3)).allowed, false, `${rule.algorithm}: and only one`);
        await store.refund!("missing", rule, 1, at); // nothing taken: nothing happens
        await store.close();
      }
      const store = backend.create();
      const fixed = rules[0]!;
      assert.ok((await store.consume("w", fixed, 2, T0 + 100)).allowed);
      await store.refund!("w", fixed, 2, T0 - 1); // a window that is over gives nothing back
      assert.equal((await store.consume("w", fixed, 1, T0 + 101)).allowed, false);
      await store.close();
    });

    test("consumeAll: a request refused by one limit spends nothing of the others", async () => {
      const clock = new FakeClock({ startMs: T0 });
      const store = backend.create();
      const wide = new RateLimiter({ rule: { algorithm: "sliding-window", limit: 3, windowMs: 1_000 }, backend: store, clock });
      const tenant = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 1, windowMs: 1_000 }, backend: store, clock });
      const both = [{ limiter: wide, key: "queue" }, { limiter: tenant, key: "tenant:a" }];
      const first = await RateLimiter.consumeAll(both);
      assert.deepEqual([first.refused, first.decisions.map((d) => d.allowed)], [null, [true, true]]);
      for (let i = 0; i < 5; i++) {
        const refused = await RateLimiter.consumeAll(both);
        assert.deepEqual([refused.refused, refused.decisions.map((d) => d.allowed)], [1, [true, false]]);
        assert.ok(refused.decisions[1]!.retryAfterMs > 0);
      }
      assert.equal((await wide.consume("queue", 2)).allowed, true, "the refused requests gave their units back");
      assert.equal((await wide.consume("queue")).allowed, false);
      await store.close();
    });

    if (backend.name !== "memory") {
      test("sliding window shared by processes: a request that reaches Redis late cannot overfill a window", async () => {
        // Each process stamps a request with its clock, then sends it: arrival order need not be
        // time order. This order once let three uses into 91 ms under a limit of 2 per 100 ms.
        const store = backend.create();
        const rule: RateLimitRule = { algorithm: "sliding-window", limit: 2, windowMs: 100 };
        const allowed: number[] = [];
        for (const at of [35, 36, 52, 97, 154, 126]) if ((await store.consume("k", rule, 1, T0 + at)).allowed) allowed.push(at);
        allowed.sort((a, b) => a - b);
        for (let i = 2; i < allowed.length; i++) assert.ok(allowed[i]! - allowed[i - 2]! >= 100, `uses at ${allowed.join(", ")}`);
        assert.deepEqual(allowed, [35, 36, 154], "in time order the same requests get the same answers");
        await store.close();
      });

      test("token bucket: a request that reaches Redis late does not refill the same time twice", async () => {
        const store = backend.create();
        const rule: RateLimitRule = { algorithm: "token-bucket", capacity: 2, refillPerSecond: 2 };
        assert.ok((await store.consume("k", rule, 2, T0)).allowed);
        assert.ok((await store.consume("k", rule, 2, T0 + 1_000)).allowed, "two tokens a second");
        assert.equal((await store.consume("k", rule, 1, T0 + 500)).allowed, false, "late, and nothing left");
        assert.equal((await store.consume("k", rule, 1, T0 + 1_000)).allowed, false, "the same second refills nothing more");
        await store.close();
      });
    }

    test("bad rules and arguments are refused", async () => {
      assert.throws(() => new RateLimiter({ rule: { algorithm: "fixed-window", limit: 0, windowMs: 1_000 } }), TypeError);
      assert.throws(() => new RateLimiter({ rule: { algorithm: "leaky" } as never }), TypeError);
      const l = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 1, windowMs: 1_000 } });
      await assert.rejects(l.consume(""), TypeError);
      await assert.rejects(l.consume("k", 0), RangeError);
    });
  });
}

describe("Worker rate limits", () => {
  const task = defineJob("task", v.object({ tenant: v.string(), n: v.number() }));

  test("a queue-wide limit spreads starts over windows; limited jobs wait, attempts unspent", async () => {
    const clock = new FakeClock({ startMs: T0 });
    const conveyor = createConveyor({ store: new MemoryStore(), clock });
    const limiter = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 2, windowMs: 1_000 }, clock });
    const started: number[] = [];
    conveyor.worker("q", { concurrency: 10, rateLimits: [{ limiter }] }).handle(task, () => void started.push(clock.now() - T0));
    const queue = conveyor.queue("q");
    await queue.addBulk(Array.from({ length: 5 }, (_, n) => ({ job: task, payload: { tenant: "a", n } })));
    await eventually(clock, () => started.length === 2);
    await clock.advance(999);
    assert.equal(started.length, 2);
    await clock.advance(1);
    await eventually(clock, () => started.length === 4);
    await clock.advance(1_000);
    await eventually(clock, () => started.length === 5);
    assert.deepEqual(started, [0, 0, 1_000, 1_000, 2_000]);
    const done = await queue.list("completed", { limit: 10 });
    assert.ok(done.every((job) => job.attemptsMade === 1), "waiting for the limit spent no attempt");
    await conveyor.close();
  });

  test("a per-key limit holds back one tenant without slowing the others", async () => {
    const clock = new FakeClock({ startMs: T0 });
    const conveyor = createConveyor({ store: new MemoryStore(), clock });
    const limiter = new RateLimiter({ rule: { algorithm: "sliding-window", limit: 1, windowMs: 10_000 }, clock });
    const started: string[] = [];
    conveyor.worker("q", { concurrency: 4, rateLimits: [{ limiter, key: (job) => `tenant:${(job.payload as { tenant: string }).tenant}` }] })
      .handle(task, ({ tenant, n }) => void started.push(`${tenant}${n}`));
    const queue = conveyor.queue("q");
    await queue.addBulk([["a", 1], ["a", 2], ["b", 1], ["c", 1], ["a", 3]].map(([tenant, n]) => ({ job: task, payload: { tenant: tenant as string, n: n as number } })));
    await eventually(clock, () => started.length === 3);
    assert.deepEqual(started.sort(), ["a1", "b1", "c1"]);
    await clock.advance(10_000);
    await eventually(clock, () => started.length === 4);
    await clock.advance(10_000);
    await eventually(clock, () => started.length === 5);
    assert.deepEqual(started.slice(3), ["a2", "a3"], "a's jobs one per window, in order");
    await conveyor.close();
  });

  test("several limits: a job one limit holds back spends nothing of the others", async () => {
    const clock = new FakeClock({ startMs: T0 });
    const conveyor = createConveyor({ store: new MemoryStore(), clock });
    const queueWide = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 2, windowMs: 1_000 }, clock });
    const perTenant = new RateLimiter({ rule: { algorithm: "sliding-window", limit: 1, windowMs: 10_000 }, clock });
    const started: string[] = [];
    const rateLimits = [{ limiter: queueWide }, { limiter: perTenant, key: (job: { payload: unknown }) => `tenant:${(job.payload as { tenant: string }).tenant}` }];
    conveyor.worker("q", { concurrency: 1, rateLimits }).handle(task, ({ tenant, n }) => void started.push(`${tenant}${n}`));
    const queue = conveyor.queue("q");
    await queue.addBulk([["a", 1], ["a", 2], ["a", 3], ["b", 1]].map(([tenant, n]) => ({ job: task, payload: { tenant: tenant as string, n: n as number } })));
    await eventually(clock, () => started.length === 2);
    assert.deepEqual(started, ["a1", "b1"], "a2 and a3, refused by their tenant's limit, left the queue-wide units to b1");
    await conveyor.close();
  });

  test("worker options refuse a limit that is not a RateLimiter", () => {
    const conveyor = createConveyor();
    assert.throws(() => conveyor.worker("q", { rateLimits: [{ limiter: {} as never }] }), /RateLimiter/);
  });
});
