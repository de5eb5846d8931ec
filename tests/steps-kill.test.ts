// Durable steps with real processes on a real redis-server: a worker killed (SIGKILL) inside a
// job's second step; another worker takes the jobs over after their leases run out and runs only
// the steps that had not finished.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createConveyor } from "../mod.ts";
import { RedisStore } from "../redis.ts";
import { stepped } from "./fixtures/step-worker.ts";
import { waitUntil } from "./support/harness.ts";
import { type Child, startScript } from "./support/processes.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

const WORKER = "tests/fixtures/step-worker.ts";
const JOBS = 8;

describe("durable steps across a SIGKILL (Redis)", () => {
  let redis: RedisServer;
  const children: Child[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await redis.stop();
  });

  test("a killed worker's finished steps are not run again; the rest run once, and every job completes", async () => {
    const prefix = `steps-${crypto.randomUUID().slice(0, 8)}`;
    const store = new RedisStore({ connection: redis.url, prefix });
    const conveyor = createConveyor({ store });
    const queue = conveyor.queue("steps");
    try {
      const jobs = await queue.addBulk(Array.from({ length: JOBS }, (_, n) => ({ job: stepped, payload: { n } })));
      const first = startScript(WORKER, { STEP_WORKER: "1", REDIS_URL: redis.url, PREFIX: prefix, HANG: "1" });
      children.push(first);
      await waitUntil(() => first.output().split("\n").filter((line) => line.startsWith("in-two ")).length === JOBS, 60_000, "every job in step two");
      await first.kill("SIGKILL");

      const second = startScript(WORKER, { STEP_WORKER: "1", REDIS_URL: redis.url, PREFIX: prefix });
      children.push(second);
      const results = await Promise.all(jobs.map((job) => queue.finished(job, { timeoutMs: 60_000 })));
      assert.deepEqual(results, jobs.map((_, n) => ({ one: n * 10, two: n * 10 + 1 })));

      const client = await store.client();
      const ranOne = (await client.call("LRANGE", `${prefix}:ran:one`, "0", "-1")) as string[];
      const ranTwo = (await client.call("LRANGE", `${prefix}:ran:two`, "0", "-1")) as string[];
      assert.deepEqual([...ranOne].sort(), jobs.map((job) => job.id).sort(), "step one ran once per job, in the killed worker");
      assert.deepEqual([...ranTwo].sort(), jobs.map((job) => job.id).sort(), "step two finished once per job, in the second worker");
      for (const job of jobs) assert.deepEqual(Object.keys((await queue.get(job.id))!.steps).sort(), ["one", "two"]);
      await second.kill();
    } finally {
      await conveyor.close({ timeoutMs: 0 });
    }
  });
});
