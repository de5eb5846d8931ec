// Health on a real redis-server: Redis stopped is down within 2 s of real time (and /health
// answers 503); two conveyors, and two worker processes, add into the same hourly buckets; a
// process killed loses only what it had not yet written.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Redis from "ioredis";
import * as v from "valibot";
import { createConveyor, defineJob, RateLimiter } from "../mod.ts";
import { RedisRateLimitBackend, RedisStore } from "../redis.ts";
import { createApp } from "../http.ts";
import { broadcastCheck, RedisBroadcastBackend } from "../broadcast.ts";
import { type Child, startScript } from "./support/processes.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";
import { runtime } from "./support/runtime.ts";
import { waitUntil } from "./support/harness.ts";
import { work } from "./fixtures/work-job.ts";

const job = defineJob("job", v.object({ fail: v.boolean() }), { attempts: 1 });

describe(`health on Redis (${runtime})`, () => {
  let redis: RedisServer;
  const stores: RedisStore[] = [];
  const store = (prefix: string) => {
    const made = new RedisStore({ connection: redis.url, prefix });
    stores.push(made);
    return made;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await redis?.stop();
  });

  test("two conveyors on one Redis (two clients, as two processes would be) add into the same buckets", async () => {
    const prefix = `h-${crypto.randomUUID()}`;
    const ran = { a: 0, b: 0 };
    const conveyors = (["a", "b"] as const).map((name) => {
      const conveyor = createConveyor({ store: store(prefix), health: { statsFlushMs: 100 } });
      const worker = conveyor.worker("q", { concurrency: 4 }).handle(job, ({ fail }) => {
        ran[name]++;
        if (fail) throw new Error("planned");
      });
      worker.onOutcome(() => {}); // a listener of the user's own goes along with the figures'
      conveyor.queue("q").events.addEventListener("dead", () => {});
      return conveyor;
    });
    await Promise.all(conveyors.map((c) => c.workers.values().next().value!.ready()));
    const reader = createConveyor({ store: store(prefix) });
    const queue = reader.queue("q");
    await queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ job, payload: { fail: i % 10 === 0 } })));
    await waitUntil(async () => {
      const c = await queue.counts();
      return c.completed + c.dead === 200;
    }, 20_000, "every job ran");
    assert.ok(ran.a > 0 && ran.b > 0, `both ran jobs (${ran.a}, ${ran.b})`);
    let figures = (await reader.health.report()).queues[0]!.last24h!;
    await waitUntil(async () => {
      figures = (await reader.health.report()).queues[0]!.last24h!;
      return figures.executions === 200;
    }, 5_000, "both flushed");
    assert.deepEqual([figures.completed, figures.failedForGood, figures.successRate], [180, 20, 0.9]);
    await Promise.all([...conveyors, reader].map((c) => c.close()));
  });

  test("worker processes flush into the same buckets; one SIGKILLed loses only what it had not written", async () => {
    const prefix = `hp-${crypto.randomUUID()}`;
    const reader = createConveyor({ store: store(prefix) });
    const client = await stores.at(-1)!.client();
    const queue = reader.queue("q");
    const children: Child[] = ["p1", "p2"].map((id) =>
      // A flush interval longer than the test: only a close writes, so what a kill loses is visible.
      startScript("tests/fixtures/health-worker.ts", { REDIS_URL: redis.url, PREFIX: prefix, WORKER_ID: id, FLUSH_MS: "600000" })
    );
    try {
      await Promise.all(children.map((c) => c.waitFor("ready")));
      await queue.addBulk(Array.from({ length: 300 }, (_, n) => ({ job: work, payload: { n } })));
      await waitUntil(async () => (await queue.counts()).completed === 300, 30_000, "every job ran");
      const ranBy = async (id: string) => Number(await client.call("LLEN", `${prefix}:ran:${id}`));
      const [p1, p2] = [await ranBy("p1"), await ranBy("p2")];
      assert.equal(p1 + p2, 300);
      assert.equal((await reader.health.report()).queues[0]!.last24h!.executions, 0, "nothing written yet");
      await client.call("SET", `${prefix}:stop:p1`, "1");
      await children[0]!.waitFor("closed");
      await children[1]!.kill("SIGKILL");
      const figures = (await reader.health.report()).queues[0]!.last24h!;
      assert.equal(figures.executions, p1, `p1 wrote its ${p1} on close; p2's ${p2} went with it`);
      // A second process closing adds to the same bucket rather than replacing it.
      const p3 = startScript("tests/fixtures/health-worker.ts", { REDIS_URL: redis.url, PREFIX: prefix, WORKER_ID: "p3", FLUSH_MS: "600000" });
      children.push(p3);
      await p3.waitFor("ready");
      await queue.addBulk(Array.from({ length: 50 }, (_, n) => ({ job: work, payload: { n } })));
      await waitUntil(async () => (await queue.counts()).completed === 350, 30_000, "the new jobs ran");
      await client.call("SET", `${prefix}:stop:p3`, "1");
      await p3.waitFor("closed");
      assert.equal((await reader.health.report()).queues[0]!.last24h!.executions, p1 + 50);
    } finally {
      await Promise.all(children.map((c) => c.kill()));
      await reader.close();
    }
  });

  test("Redis stopped: down within 2 s of real time, /health answers 503; limits and broadcasting say so too", async () => {
    const own = await startRedis(); // this test stops it
    const errors = console.error;
    console.error = () => {}; // ioredis's reconnect notice
    const conveyor = createConveyor({ store: new RedisStore({ connection: own.url, prefix: "down" }) });
    const limiter = new RateLimiter({ rule: { algorithm: "sliding-window", limit: 4, windowMs: 60_000 }, backend: new RedisRateLimitBackend({ connection: own.url }) });
    conveyor.worker("q", { rateLimits: [{ limiter }], autostart: false });
    // Our own client for the backend, never started: the test lets go of the client itself, as
    // the backend's close() waits for Redis to remove its node entry, and Redis is gone.
    const broadcastClient = new Redis(own.url, { maxRetriesPerRequest: null });
    broadcastClient.on("error", () => {});
    const broadcast = new RedisBroadcastBackend({ connection: broadcastClient });
    conveyor.health.register("broadcast", broadcastCheck(broadcast));
    const warn = console.warn;
    console.warn = () => {};
    const app = createApp(conveyor, { auth: false });
    console.warn = warn;
    try {
      await limiter.consume("queue:q");
      const healthy = await conveyor.health.report();
      assert.equal(healthy.status, "ok", JSON.stringify(healthy.checks));
      assert.deepEqual(Object.keys(healthy.checks), ["store", "store.connection", "broadcast"]);
      assert.match(healthy.checks["store.connection"]!.message!, /^PONG in \d+ ms$/);
      assert.equal(healthy.checks["store.connection"]!.details!.connection, "ready");
      const limit = healthy.queues[0]!.configuration.rateLimits[0]!;
      assert.deepEqual([limit.current, limit.max, limit.percent, limit.sharedAcrossProcesses], [1, 4, 25, true]);

      await own.stop();
      let started = Date.now();
      const report = await conveyor.health.report();
      const took = Date.now() - started;
      assert.ok(took < 2_000, `answered in ${took} ms`);
      assert.equal(report.status, "down");
      for (const name of ["store", "store.connection", "broadcast"]) assert.equal(report.checks[name]!.status, "down", name);
      assert.equal(report.queues[0]!.configuration.rateLimits[0]!.current, null, "the limit's use could not be read in time");
      started = Date.now();
      const response = await app.request("/health");
      assert.equal(response.status, 503);
      assert.ok(Date.now() - started < 2_000);
      assert.equal((await response.json()).status, "down");
    } finally {
      await conveyor.close();
      await limiter.backend.close();
      broadcastClient.disconnect();
      await own.stop();
      console.error = errors;
    }
  });
});
