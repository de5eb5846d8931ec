// The Redis store's guarantees, with real processes and a real redis-server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createConveyor, type Queue } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { work } from "./fixtures/work-job.ts";
import { waitUntil } from "./support/harness.ts";
import { type Child, startScript } from "./support/processes.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

const WORKER = "tests/fixtures/redis-worker.ts";

/** Every producer's store, closed after the suite even when a test failed before closing its own. */
const stores: RedisStore[] = [];

async function producer(url: string, prefix: string) {
  const store = new RedisStore({ connection: url, prefix });
  stores.push(store);
  const conveyor = createConveyor({ store });
  return { store, conveyor, queue: conveyor.queue("q") as Queue };
}

async function recorded(store: RedisStore, prefix: string): Promise<string[]> {
  return await (await store.client()).call("LRANGE", `${prefix}:record`, 0, -1) as string[];
}

describe("Redis across processes", () => {
  let redis: RedisServer;
  const children: Child[] = [];
  before(async () => {
    redis = await startRedis({ appendonly: true });
  });
  after(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await Promise.all(stores.map((store) => store.close()));
    await redis.stop();
  });

  // Sharing one queue between worker processes and a worker killed mid-job are the conformance
  // kit's process cases (tests/store-conformance.test.ts); what is Redis's own stays here.

  test("restart redis-server: waiting and delayed jobs survive and workers carry on", async () => {
    const prefix = `restart-${crypto.randomUUID().slice(0, 8)}`;
    const { store, conveyor, queue } = await producer(redis.url, prefix);
    const worker = startScript(WORKER, {
      REDIS_URL: redis.url, PREFIX: prefix, WORKER_ID: "steady", CONCURRENCY: "4", WORK_MS: "30", LEASE_MS: "2000", STALL_CHECK_MS: "250",
    });
    children.push(worker);
    await worker.waitFor("ready");
    const waiting = await queue.addBulk(Array.from({ length: 150 }, (_, n) => ({ job: work, payload: { n }, options: { removeOnComplete: false } })));
    const delayed = await queue.addBulk(Array.from({ length: 30 }, (_, n) => ({ job: work, payload: { n: 1_000 + n }, options: { delayMs: 4_000, removeOnComplete: false } })));
    await waitUntil(async () => (await queue.counts()).completed >= 20, 10_000, "some progress before the restart");
    await conveyor.close();
    const { port, dir } = redis;
    await redis.stop({ kill: true, keepDir: true });
    redis = await startRedis({ port, dir, appendonly: true });
    const after = await producer(redis.url, prefix);
    const counts = await after.queue.counts();
    assert.ok(counts.waiting + counts.active > 0 && counts.delayed === 30, `jobs survived the restart: ${JSON.stringify(counts)}`);
    await waitUntil(async () => (await after.queue.counts()).completed === 180, 60_000, "all 180 completed after the restart")
      .catch(async (error) => {
        throw new Error(`${error.message}; counts ${JSON.stringify(await after.queue.counts())}; worker said:\n${worker.output()}`);
      });
    const runs = await recorded(after.store, prefix);
    for (const job of [...waiting, ...delayed]) assert.ok(runs.includes(job.id), `job ${job.id} ran`);
    assert.equal((await after.queue.counts()).dead, 0);
    await worker.kill();
    await after.conveyor.close();
    await store.close();
  });

  test("a rate limit on Redis holds across worker processes: never more than 5 admissions in any second", async () => {
    const prefix = `limit-${crypto.randomUUID().slice(0, 8)}`;
    const { store, conveyor, queue } = await producer(redis.url, prefix);
    const workers = ["x", "y"].map((id) =>
      startScript(WORKER, { REDIS_URL: redis.url, PREFIX: prefix, WORKER_ID: id, CONCURRENCY: "10", RATE_LIMIT: "5/1000" }));
    children.push(...workers);
    await Promise.all(workers.map((w) => w.waitFor("ready")));
    await queue.addBulk(Array.from({ length: 20 }, (_, n) => ({ job: work, payload: { n }, options: { removeOnComplete: false } })));
    await waitUntil(async () => (await queue.counts()).completed === 20, 30_000, "20 completions");
    assert.equal((await recorded(store, prefix)).length, 20, "each job started once");
    // Admissions in the limiter's own time (the `now` each decision was made at, in either
    // process): what the limit promises, exactly, however late a busy machine starts a handler.
    const admitted = (await (await store.client()).call("LRANGE", `${prefix}:admissions`, 0, -1) as string[]).map(Number).sort((a, b) => a - b);
    assert.equal(admitted.length, 20, "each job admitted once");
    for (let i = 5; i < admitted.length; i++) {
      assert.ok(admitted[i]! - admitted[i - 5]! >= 1_000, `admission ${i} came ${admitted[i]! - admitted[i - 5]!} ms after admission ${i - 5}`);
    }
    const byWorker = await queue.list("completed", { limit: 20 });
    assert.ok(byWorker.every((job) => job.attemptsMade === 1), "limited jobs waited without spending attempts");
    await Promise.all(workers.map((w) => w.kill()));
    await conveyor.close();
  });

  test("an HTTP rate limit on Redis is shared by two server processes", async () => {
    const prefix = `http-${crypto.randomUUID().slice(0, 8)}`;
    const servers = [0, 1].map(() => startScript("tests/fixtures/http-server.ts", { REDIS_URL: redis.url, PREFIX: prefix }));
    children.push(...servers);
    const ports: number[] = [];
    for (const server of servers) {
      await waitUntil(() => /listening \d+/.test(server.output()), 20_000, "the server to listen").catch(() => {
        throw new Error(server.output());
      });
      ports.push(Number(server.output().match(/listening (\d+)/)![1]));
    }
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) {
      const res = await fetch(`http://127.0.0.1:${ports[i % 2]}/queues`);
      statuses.push(res.status);
      if (res.status === 429) assert.ok(Number(res.headers.get("retry-after")) > 0);
      await res.body?.cancel();
    }
    assert.equal(statuses.filter((s) => s === 200).length, 10, `one limit of 10 across both servers: ${statuses.join(",")}`);
    assert.deepEqual(statuses.slice(10), [429, 429, 429, 429, 429, 429]);
    await Promise.all(servers.map((s) => s.kill()));
  });
});
