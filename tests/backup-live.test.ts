// Backup beside running workers (each job written once, workers finish meanwhile), and what a
// restore does with workflows: a pending chain step keeps its chain, flow links are dropped and counted.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as v from "valibot";
import { createConveyor, defineJob, FakeClock, MemoryStore, type QueueStore } from "../mod.ts";
import { backup, restore } from "../maintenance.ts";
import { newJob } from "./support/store-conformance.ts";

const T0 = Date.UTC(2026, 0, 1);
const work = defineJob("work", v.object({ i: v.number() }), { removeOnComplete: false });

async function archive(store: QueueStore, queues: string[], pageSize?: number) {
  const chunks: Uint8Array[] = [];
  const result = await backup(store, new WritableStream({ write: (c) => void chunks.push(c) }), { queues, ...(pageSize ? { pageSize } : {}) });
  return { result, open: () => new Blob(chunks as unknown as BlobPart[]).stream() };
}

test("a backup taken while a worker runs: it ends, the worker goes on, no job is written twice", async () => {
  const clock = new FakeClock({ startMs: T0 });
  const conveyor = createConveyor({ clock });
  try {
    const queue = conveyor.queue("work");
    await queue.addBulk(Array.from({ length: 2_000 }, (_, i) => ({ job: work, payload: { i } })));
    let handled = 0;
    // Each handler yields to the event loop, so pages of the backup and jobs interleave.
    conveyor.worker(queue, { concurrency: 20 }).handle(work, async () => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      handled++;
    });
    const [{ result, open }] = await Promise.all([archive(conveyor.store, ["work"], 50), conveyor.drain()]);
    assert.equal(handled, 2_000);
    assert.ok(result.jobs <= 2_000 && result.jobs > 0, `wrote ${result.jobs}`);
    const text = await new Response(open().pipeThrough(new DecompressionStream("gzip"))).text();
    const ids = text.split("\n").filter((l) => l.includes('"kind":"job"')).map((l) => JSON.parse(l).job.id as string);
    assert.equal(new Set(ids).size, ids.length, "each job once");
    assert.equal(ids.length, result.jobs);
    const target = new MemoryStore();
    const restored = await restore(target, open, { clock });
    assert.equal(restored.jobs, result.jobs);
    const counts = await target.counts("work");
    assert.equal(counts.waiting + counts.completed + counts.delayed, result.jobs);
  } finally {
    await conveyor.close();
  }
});

test("workflows: a pending chain step keeps its chain; flow links are dropped and counted", async () => {
  const source = new MemoryStore();
  const step = { queue: "q", job: { ...newJob(), payload: { n: 2 } }, delayMs: 0, inherit: true };
  const { id: _id, createdAt: _c, runAt: _r, flow: _f, ...jobPart } = { ...newJob({ payload: { n: 2 } }), flow: null };
  const chain = { then: [{ ...step, job: jobPart }], catch: null, finally: null };
  await source.enqueue("q", { jobs: [newJob({ payload: { n: 1 }, flow: { chain, previous: null, parent: null, family: null } })], now: T0 });
  await source.enqueueFlow({
    now: T0,
    nodes: [
      { queue: "q", job: newJob({ payload: { n: 10 } }), parent: null, onFailure: "fail", batch: false },
      { queue: "q", job: newJob({ payload: { n: 11 } }), parent: 0, onFailure: "fail", batch: false },
    ],
  });
  const { open } = await archive(source, ["q"]);
  const target = new MemoryStore();
  const result = await restore(target, open, { clock: new FakeClock({ startMs: T0 }) });
  assert.equal(result.jobs, 3);
  assert.equal(result.unlinked, 2); // the parent and its child
  const waiting = await target.list("q", "waiting", { offset: 0, limit: 10 });
  const byN = new Map(waiting.map((j) => [(j.payload as { n: number }).n, j]));
  assert.deepEqual([...byN.keys()].sort((a, b) => a - b), [1, 10, 11]);
  assert.equal(byN.get(1)!.flow?.chain?.then.length, 1);
  assert.equal(byN.get(10)!.flow, null);
  assert.equal(byN.get(11)!.flow, null);
});
