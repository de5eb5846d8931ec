// Several rate limits on one worker: a job held back by one limit spends nothing of the others.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as v from "valibot";
import { createConveyor, defineJob, FakeClock, MemoryStore, RateLimiter } from "../mod.ts";
import { eventually } from "./support/harness.ts";

const task = defineJob("task", v.object({ tenant: v.string() }));

test("units taken by earlier limits are given back when a later one refuses", async () => {
  const clock = new FakeClock();
  const conveyor = createConveyor({ store: new MemoryStore(), clock });
  const queueWide = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 5, windowMs: 60_000 }, clock });
  const perTenant = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 1, windowMs: 60_000 }, clock });
  const started: string[] = [];
  conveyor.worker("q", {
    concurrency: 4,
    rateLimits: [{ limiter: queueWide }, { limiter: perTenant, key: (job) => `tenant:${(job.payload as { tenant: string }).tenant}` }],
  }).handle(task, ({ tenant }) => void started.push(tenant));
  const queue = conveyor.queue("q");
  // Four jobs of tenant a: one runs, three are held back by the tenant limit.
  await queue.addBulk(["a", "a", "a", "a"].map((tenant) => ({ job: task, payload: { tenant } })));
  await eventually(clock, () => started.length === 1);
  await clock.flush();
  // Only the job that ran took from the queue-wide limit: four more tenants still fit in it.
  await queue.addBulk(["b", "c", "d", "e"].map((tenant) => ({ job: task, payload: { tenant } })));
  await eventually(clock, () => started.length === 5);
  assert.deepEqual(started.sort(), ["a", "b", "c", "d", "e"]);
  assert.equal((await queueWide.consume("queue:q")).allowed, false, "the queue-wide limit is now used up, by the five that ran");
  await conveyor.close();
});
