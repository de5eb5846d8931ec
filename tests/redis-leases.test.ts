// Leases on Redis are timed by the server's clock: with real worker processes, a redis-server
// that stops answering for longer than a lease, and workers whose clocks are seconds apart,
// never let two processes run one job at once.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ConveyorEventData, createConveyor, type JobCounts, type Queue } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { work } from "./fixtures/work-job.ts";
import { waitUntil } from "./support/harness.ts";
import { newJob } from "./support/store-conformance.ts";
import { type Child, startScript } from "./support/processes.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

const WORKER = "tests/fixtures/redis-lease-worker.ts";

interface Run {
  readonly id: string;
  readonly worker: string;
  readonly start: number;
  readonly end: number;
}

describe("Redis leases across processes", () => {
  let redis: RedisServer;
  const children: Child[] = [];
  const stores: RedisStore[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    redis.resume();
    await Promise.all(children.map((child) => child.kill()));
    await Promise.all(stores.map((store) => store.close()));
    await redis.stop();
  });

  async function setup(name: string) {
    const prefix = `${name}-${crypto.randomUUID().slice(0, 8)}`;
    const store = new RedisStore({ connection: redis.url, prefix });
    stores.push(store);
    const conveyor = createConveyor({ store });
    const stalled: ConveyorEventData[] = [];
    const subscription = store.subscribe("q", (event) => stalled.push(event), ["stalled"]);
    await subscription.ready;
    const client = await store.client();
    const list = async (name: string) => await client.call("LRANGE", `${prefix}:${name}`, 0, -1) as string[];
    const start = async (settings: Record<string, string>[]) => {
      const workers = settings.map((env, i) => startScript(WORKER, { REDIS_URL: redis.url, PREFIX: prefix, WORKER_ID: `w${i}`, ...env }));
      children.push(...workers);
      await Promise.all(workers.map((w) => w.waitFor("ready")));
      return workers;
    };
    /** Every run of every job, once no handler is still running. */
    const runs = async (): Promise<Run[]> => {
      await waitUntil(async () => (await list("runs")).length === (await list("starts")).length, 20_000, "running handlers to end");
      return (await list("runs")).map((line) => {
        const [id, worker, start, end] = line.split(" ");
        return { id: id!, worker: worker!, start: Number(start), end: Number(end) };
      });
    };
    return { store, conveyor, queue: conveyor.queue("q") as Queue, stalled, start, runs, close: () => subscription.close() };
  }

  const settled = (counts: JobCounts) => counts.completed + counts.dead + counts.failed;

  /** Pairs of runs of one job whose handlers were running at the same time. */
  function overlaps(runs: readonly Run[]): string[] {
    const byJob = new Map<string, Run[]>();
    for (const run of runs) byJob.set(run.id, [...byJob.get(run.id) ?? [], run]);
    const found: string[] = [];
    for (const [id, list] of byJob) {
      for (let i = 0; i < list.length; i++) {
        for (let k = i + 1; k < list.length; k++) {
          const [a, b] = [list[i]!, list[k]!];
          if (a.start < b.end && b.start < a.end) found.push(`job ${id}: ${a.worker} ${a.start}–${a.end}, ${b.worker} ${b.start}–${b.end}`);
        }
      }
    }
    return found;
  }

  /** Two stores on one queue, as two worker processes would have. */
  async function twoStores() {
    const prefix = `direct-${crypto.randomUUID().slice(0, 8)}`;
    const [a, b] = [new RedisStore({ connection: redis.url, prefix }), new RedisStore({ connection: redis.url, prefix })];
    stores.push(a, b);
    await a.enqueue("q", { jobs: [newJob()], now: Date.now() });
    assert.equal((await b.counts("q")).waiting, 1, "both connected");
    return { a, b };
  }

  test("a claim Redis runs late still gets a whole lease, and a stall check right after leaves it alone", async () => {
    const { a, b } = await twoStores();
    redis.pause();
    const sentAt = Date.now();
    const claimed = a.claim("q", { workerId: "late", limit: 1, leaseMs: 3_000, now: sentAt });
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    redis.resume();
    const [job] = (await claimed).jobs;
    // Same machine, so the server's clock and ours agree to the millisecond.
    assert.ok(job!.lease!.expiresAt >= sentAt + 3_500 + 3_000 - 2, `lease from when Redis ran the claim: ${job!.lease!.expiresAt - sentAt} ms`);
    assert.deepEqual(await b.recoverStalled("q", { now: Date.now(), maxStalls: 1 }), { requeued: [], failed: [] });
    assert.equal((await b.get("q", job!.id))?.lease?.token, job!.lease!.token, "still held by its claimer");
  });

  test("workers whose clocks are 5 s apart: a stall check by the fast one takes nothing the slow one holds", async () => {
    const { a, b } = await twoStores();
    const slow = () => Date.now() - 5_000;
    const fast = () => Date.now() + 5_000;
    const [job] = (await a.claim("q", { workerId: "slow", limit: 1, leaseMs: 2_000, now: slow() })).jobs;
    assert.ok(Math.abs(job!.lease!.expiresAt - (Date.now() + 2_000)) < 1_000, "expiresAt is in the server's clock");
    assert.deepEqual(await b.recoverStalled("q", { now: fast(), maxStalls: 1 }), { requeued: [], failed: [] });
    assert.deepEqual(await a.extendLeases("q", { leases: [{ id: job!.id, token: job!.lease!.token }], leaseMs: 2_000, now: slow() }), []);
    assert.deepEqual(await b.recoverStalled("q", { now: fast(), maxStalls: 1 }), { requeued: [], failed: [] });
    assert.equal((await b.get("q", job!.id))?.state, "active");
  });

  test("redis-server paused for twice a lease: no job runs in two processes at once, none is lost or dead", async () => {
    // Paused while the queue drains: the claims workers sent just before the pause run after it,
    // and workers have free slots then, so a job taken from its holder would run again at once.
    // (With leases timed by the callers' clocks, 2 to 6 of 100 jobs ran twice at once here.)
    const { queue, start, runs, close } = await setup("pause");
    const settings = { CONCURRENCY: "16", WORK_MS: "300", LEASE_MS: "1500", STALL_CHECK_MS: "100" };
    const workers = await start([settings, settings, settings]);
    const jobs = await queue.addBulk(Array.from({ length: 100 }, (_, n) => ({ job: work, payload: { n }, options: { removeOnComplete: false } })));
    await waitUntil(async () => (await queue.counts()).completed >= 40, 20_000, "40 completions before the pause");
    redis.pause();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    redis.resume();
    await waitUntil(async () => settled(await queue.counts()) === 100, 30_000, "all 100 to finish after the pause")
      .catch(async (error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await queue.counts())}; a worker said:\n${workers[0]!.output()}`);
      });
    const all = await runs();
    assert.deepEqual(overlaps(all), [], "no job ran in two places at once");
    assert.deepEqual(new Set(all.map((run) => run.id)), new Set(jobs.map((job) => job.id)), "every job ran");
    const counts = await queue.counts();
    assert.equal(counts.dead + counts.failed, 0, "none dead-lettered (as stalled or otherwise)");
    close();
    await Promise.all(workers.map((w) => w.kill()));
  });

  test("worker clocks 5 s fast and 5 s slow: no lease is taken from its holder, and every job runs once", async () => {
    const { queue, stalled, start, runs, close } = await setup("skew");
    const settings = { CONCURRENCY: "4", WORK_MS: "300", LEASE_MS: "2000", STALL_CHECK_MS: "100" };
    const workers = await start([
      { ...settings, CLOCK_OFFSET_MS: "5000" },
      { ...settings, CLOCK_OFFSET_MS: "-5000" },
      { ...settings, CLOCK_OFFSET_MS: "0" },
    ]);
    const jobs = await queue.addBulk(Array.from({ length: 120 }, (_, n) => ({ job: work, payload: { n }, options: { removeOnComplete: false } })));
    await waitUntil(async () => settled(await queue.counts()) === 120, 30_000, "all 120 to finish");
    assert.equal((await queue.counts()).completed, 120, "all completed, none dead");
    const all = await runs();
    assert.deepEqual(overlaps(all), [], "no job ran in two places at once");
    assert.equal(all.length, 120, "each job ran once");
    assert.deepEqual(new Set(all.map((run) => run.id)), new Set(jobs.map((job) => job.id)));
    assert.deepEqual(new Set(all.map((run) => run.worker)), new Set(["w0", "w1", "w2"]), "every worker took part");
    assert.deepEqual(stalled, [], "no stall was seen");
    for (const job of await queue.list("completed", { limit: 200 })) assert.equal(job.stalls, 0, `job ${job.id} never stalled`);
    close();
    await Promise.all(workers.map((w) => w.kill()));
  });
});
