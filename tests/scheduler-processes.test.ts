// Three scheduler processes on one real redis-server: each per-second tick becomes one job.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type ConveyorEventData, RedisStore } from "../mod.ts";
import { type Child, startScript } from "./support/processes.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

let redis: RedisServer;
const children: Child[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(children.map((child) => child.kill()));
  await redis.stop();
});

test("three scheduler processes, a per-second cron, 12 s: exactly one job per tick, none missing", async () => {
  const prefix = `sched-${crypto.randomUUID().slice(0, 8)}`;
  const observer = new RedisStore({ connection: redis.url, prefix });
  try {
    // Every creation of a job is announced once: two nodes creating one tick's job would show twice.
    const created: string[] = [];
    const subscription = observer.subscribe("ticks", (event: ConveyorEventData) => {
      if (event.type === "enqueued") created.push(event.jobId);
    }, ["enqueued"]);
    await subscription.ready;
    const nodes = ["a", "b", "c"].map((name) => startScript("tests/fixtures/scheduler-node.ts", { REDIS_URL: redis.url, PREFIX: prefix, NODE: name }));
    children.push(...nodes);
    await Promise.all(nodes.map((node) => node.waitFor("ready")));
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    await Promise.all(nodes.map((node) => node.kill("SIGKILL")));
    await new Promise((resolve) => setTimeout(resolve, 200)); // last announcements in flight
    subscription.close();

    const stored = (await observer.list("ticks", "waiting", { offset: 0, limit: 1_000 })).map((job) => job.id);
    const ticks = stored.map((id) => Number(id.split(":").pop())).sort((a, b) => a - b);
    assert.ok(ticks.length >= 10, `at least 10 ticks fired: ${ticks.length}`);
    for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]! - ticks[i - 1]!, 1_000, `no tick missing after ${new Date(ticks[i - 1]!).toISOString()}`);
    assert.equal(created.length, new Set(created).size, "no job created twice");
    assert.deepEqual(new Set(created), new Set(stored), "every stored job was created once, by one node");
  } finally {
    await observer.close();
  }
});
