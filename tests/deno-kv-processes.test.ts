// The Deno KV store's guarantees, with worker processes sharing one SQLite file.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createConveyor, type Queue } from "../mod.ts";
import { DenoKvStore } from "../src/store/deno-kv/store.ts";
import { work } from "./fixtures/work-job.ts";
import { type ClosableKv, openDenoKv, tempKvPath } from "./support/deno-kv.ts";
import { waitUntil } from "./support/harness.ts";
import { type Child, startScript } from "./support/processes.ts";

const WORKER = "tests/fixtures/kv-worker.ts";

describe("Deno KV across processes", () => {
  const file = tempKvPath();
  let kv: ClosableKv;
  const children: Child[] = [];
  const stores: DenoKvStore[] = [];
  before(async () => {
    kv = await openDenoKv(file.path);
  });
  after(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await Promise.all(stores.map((store) => store.close()));
    kv.close();
    file.remove();
  });

  function producer(prefix: string) {
    const store = new DenoKvStore({ kv, prefix });
    stores.push(store);
    return { conveyor: createConveyor({ store }), queue: createConveyor({ store }).queue("q") as Queue };
  }

  /** Job ids each run was recorded for, one entry per run. */
  async function recorded(prefix: string): Promise<string[]> {
    const runs: string[] = [];
    for await (const entry of kv.list({ prefix: [prefix, "record"] })) runs.push(entry.key[2] as string);
    return runs;
  }

  const failWith = (children: Child[]) => (error: Error) => {
    throw new Error(`${error.message}; workers said:\n${children.map((c) => c.output()).join("\n---\n")}`);
  };

  test("3 worker processes share 2,000 jobs: each runs exactly once", async () => {
    const prefix = `share-${crypto.randomUUID().slice(0, 8)}`;
    const { queue } = producer(prefix);
    const workers = Array.from({ length: 3 }, (_, i) =>
      startScript(WORKER, { KV_PATH: file.path, PREFIX: prefix, WORKER_ID: `w${i}`, CONCURRENCY: "8" }));
    children.push(...workers);
    await Promise.all(workers.map((w) => w.waitFor("ready")));
    const ids: string[] = [];
    for (let i = 0; i < 2_000; i += 500) {
      const jobs = await queue.addBulk(Array.from({ length: 500 }, (_, k) => ({ job: work, payload: { n: i + k }, options: { removeOnComplete: false } })));
      ids.push(...jobs.map((j) => j.id));
    }
    await waitUntil(async () => (await queue.counts()).completed === 2_000, 120_000, "2,000 completions").catch(failWith(workers));
    const runs = await recorded(prefix);
    assert.equal(runs.length, 2_000, "each job ran once: no duplicates");
    assert.deepEqual(new Set(runs), new Set(ids), "and none missing");
    const counts = await queue.counts();
    assert.equal(counts.active + counts.waiting + counts.dead + counts.failed, 0);
    const byWorker = new Set<string>();
    for await (const entry of kv.list<string>({ prefix: [prefix, "record"] })) byWorker.add(entry.value);
    assert.equal(byWorker.size, 3, "every process took a share");
    await Promise.all(workers.map((w) => w.kill()));
  });

  test("SIGKILL a worker holding jobs: another process completes every one of them", async () => {
    const prefix = `kill-${crypto.randomUUID().slice(0, 8)}`;
    const { queue } = producer(prefix);
    const settings = { KV_PATH: file.path, PREFIX: prefix, CONCURRENCY: "10", WORK_MS: "300", LEASE_MS: "1500", STALL_CHECK_MS: "250" };
    const doomed = startScript(WORKER, { ...settings, WORKER_ID: "doomed" });
    children.push(doomed);
    await doomed.waitFor("ready");
    const jobs = await queue.addBulk(Array.from({ length: 60 }, (_, n) => ({ job: work, payload: { n }, options: { removeOnComplete: false } })));
    await waitUntil(async () => (await queue.counts()).active === 10, 10_000, "10 jobs in flight").catch(failWith([doomed]));
    const inFlight = (await queue.list("active", { limit: 100 })).map((j) => j.id);
    assert.ok(inFlight.length === 10 && (await queue.list("active")).every((j) => j.lease?.workerId === "doomed"));
    await doomed.kill("SIGKILL");
    const survivor = startScript(WORKER, { ...settings, WORKER_ID: "survivor" });
    children.push(survivor);
    await waitUntil(async () => (await queue.counts()).completed === 60, 60_000, "all 60 completed").catch(failWith([survivor]));
    for (const id of inFlight) {
      const job = await queue.get(id);
      assert.equal(job?.state, "completed", `in-flight job ${id} completed`);
      assert.equal(job?.stalls, 1, `job ${id} counted one stall`);
    }
    assert.deepEqual(new Set(await recorded(prefix)), new Set(jobs.map((j) => j.id)), "none lost");
    await survivor.kill();
  });
});
