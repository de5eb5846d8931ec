// Three scheduler processes on one real redis-server: each tick becomes one job, once.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type ConveyorEventData, createConveyor } from "../mod.ts";
import { RedisStore } from "../redis.ts";
import { work } from "./fixtures/work-job.ts";
import { waitUntil } from "./support/harness.ts";
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

const tickOf = (jobId: string) => Number(jobId.split(":").pop());
/** How many times each value occurs, for the ones that occur more than once. */
function repeated(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 1));
}

test("three scheduler processes, jobs deleted as soon as they complete: every tick fires once and `runs` counts each", async () => {
  const prefix = `sched-${crypto.randomUUID().slice(0, 8)}`;
  const EVERY_MS = 100;
  const TICKS = 100;
  // This process is the worker: jobs keep no trace once completed, so only the fired-tick claim
  // stands between a late node and the same tick enqueued again.
  const conveyor = createConveyor({ store: new RedisStore({ connection: redis.url, prefix }) });
  const handled: string[] = [];
  const worker = conveyor.worker("ticks", { concurrency: 20 }).handle(work, (_payload, ctx) => void handled.push(ctx.id));
  try {
    // Every creation of a job is announced once: two nodes creating one tick's job would show twice.
    const created: string[] = [];
    const subscription = conveyor.store.subscribe("ticks", (event: ConveyorEventData) => {
      if (event.type === "enqueued") created.push(event.jobId);
    }, ["enqueued"]);
    await subscription.ready;
    await worker.ready();

    // The schedule's ticks are a fixed set, so the test counts ticks, not wall-clock time.
    const startAt = Math.ceil((Date.now() + 1_000) / EVERY_MS) * EVERY_MS;
    const endAt = startAt + (TICKS - 1) * EVERY_MS;
    const expected = Array.from({ length: TICKS }, (_, i) => `schedule:beat:${startAt + i * EVERY_MS}`);
    const env = { REDIS_URL: redis.url, PREFIX: prefix, EVERY_MS: String(EVERY_MS), START_AT: String(startAt), END_AT: String(endAt), RETAIN: "none", GRACE_MS: "60000" };
    const nodes = ["a", "b", "c"].map((name) => startScript("tests/fixtures/scheduler-node.ts", { ...env, NODE: name }));
    children.push(...nodes);
    await Promise.all(nodes.map((node) => node.waitFor("ready")));

    const scheduler = conveyor.scheduler({ autostart: false });
    await waitUntil(() => Date.now() > endAt + 500 && handled.length >= TICKS, 60_000, "every tick handled");
    await Promise.all(nodes.map((node) => node.kill("SIGKILL")));
    await new Promise((resolve) => setTimeout(resolve, 200)); // last announcements in flight
    subscription.close();

    assert.deepEqual(repeated(created), {}, "no tick's job created twice");
    assert.deepEqual(repeated(handled), {}, "no tick's job run twice");
    assert.deepEqual([...created].sort(), expected, "every tick from startAt to endAt fired");
    assert.deepEqual(handled.map(tickOf).sort((a, b) => a - b), expected.map(tickOf));
    const info = await scheduler.get("beat");
    assert.equal(info?.runs, TICKS, "runs counts every tick, whichever node fired it");
    assert.equal(info?.lastJobId, expected.at(-1));
  } finally {
    await conveyor.close({ timeoutMs: 0 });
  }
});
