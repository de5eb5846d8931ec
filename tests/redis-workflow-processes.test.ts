// Workflows with real processes on a real redis-server (issue 12's proof): chains worked by four
// worker processes, the same with a worker SIGKILLed again and again, and a flow whose children
// are split over three processes. Only what the store promises is asserted, from the runs the
// workers record (tests/support/workflow-worker.ts): no wall-clock timings.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createConveyor } from "../mod.ts";
import { RedisStore } from "../redis.ts";
import { waitUntil } from "./support/harness.ts";
import { type Child, startScript } from "./support/processes.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";
import { CHAIN_QUEUE, chainStep, childQueue, flowChild, flowParent, PARENT_QUEUE, type Run, runsKey } from "./support/workflow-worker.ts";

const WORKER = "tests/support/workflow-worker.ts";
const CHAINS = 1_000;
const STEPS = 5;
const CHILDREN = 100;
/** A kill after every this many recorded step runs: about six kills, each while work remains. */
const KILL_EVERY_RUNS = 700;

type StepRun = Extract<Run, { kind: "step" }>;

describe("workflows across processes (Redis)", () => {
  let redis: RedisServer;
  const children: Child[] = [];
  const stores: RedisStore[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await Promise.all(stores.map((store) => store.close()));
    await redis.stop();
  });

  function open(prefix: string) {
    const store = new RedisStore({ connection: redis.url, prefix });
    stores.push(store);
    return { store, conveyor: createConveyor({ store }) };
  }

  function startWorker(prefix: string, id: string, env: Record<string, string>): Child {
    const child = startScript(WORKER, { WORKFLOW_WORKER: "1", REDIS_URL: redis.url, PREFIX: prefix, WORKER_ID: id, ...env });
    children.push(child);
    return child;
  }

  async function runs(store: RedisStore, prefix: string): Promise<Run[]> {
    const lines = await (await store.client()).call("LRANGE", runsKey(prefix), 0, -1) as string[];
    return lines.map((line) => JSON.parse(line) as Run);
  }

  /** 1,000 chains of five steps on four worker processes, optionally killing one every KILL_EVERY_RUNS runs. */
  async function chains(options: { kill: boolean }): Promise<{ runs: StepRun[]; killed: ReadonlySet<string>; workers: number }> {
    const prefix = `chains-${crypto.randomUUID().slice(0, 8)}`;
    const { store, conveyor } = open(prefix);
    const queue = conveyor.queue(CHAIN_QUEUE);
    const env = { MODE: "chain", CONCURRENCY: "8", WORK_MS: options.kill ? "10" : "2", LEASE_MS: "3000", STALL_CHECK_MS: "200" };
    let started = 0;
    const live: { id: string; child: Child }[] = [];
    const spawn = () => {
      const id = `w${++started}`;
      const worker = { id, child: startWorker(prefix, id, env) };
      live.push(worker);
      return worker;
    };
    const first = Array.from({ length: 4 }, spawn);
    await Promise.all(first.map(({ child }) => child.waitFor("ready", 60_000)));

    for (let c = 0; c < CHAINS; c += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => {
        let chain = queue.chain(chainStep, { chain: c + k, step: 0 });
        for (let s = 1; s < STEPS; s++) chain = chain.then(chainStep);
        return chain.add();
      }));
    }

    const killed = new Set<string>();
    const client = await store.client();
    const done = async () => (await queue.counts()).completed === CHAINS * STEPS;
    let nextKillAt = KILL_EVERY_RUNS;
    await waitUntil(async () => {
      if (options.kill && Number(await client.call("LLEN", runsKey(prefix))) >= nextKillAt && !(await done())) {
        // The oldest process still alive: it is past its start-up and holding steps.
        const victim = live.shift()!;
        await victim.child.kill("SIGKILL");
        killed.add(victim.id);
        spawn();
        nextKillAt += KILL_EVERY_RUNS;
      }
      return await done();
    }, 120_000, `all ${CHAINS * STEPS} steps completed`).catch(async (error) => {
      throw new Error(`${error.message}; counts ${JSON.stringify(await queue.counts())}; workers said:\n${live.map(({ child }) => child.output()).join("\n")}`);
    });

    await Promise.all(live.map(({ child }) => child.kill()));
    const counts = await queue.counts();
    assert.deepEqual(
      { waiting: counts.waiting, delayed: counts.delayed, active: counts.active, failed: counts.failed, dead: counts.dead },
      { waiting: 0, delayed: 0, active: 0, failed: 0, dead: 0 },
      "nothing left over, nothing failed",
    );
    return { runs: (await runs(store, prefix)) as StepRun[], killed, workers: started };
  }

  /**
   * Each chain's runs in the order they started: steps 0…4, each a single job whose previous is
   * the job of the step before and whose payload is that step's result. Returns, per step, its runs.
   */
  function checkChains(all: readonly StepRun[]): StepRun[][] {
    const byChain = new Map<number, StepRun[]>();
    for (const run of all) {
      assert.equal(run.kind, "step");
      byChain.set(run.chain, [...byChain.get(run.chain) ?? [], run]);
    }
    assert.equal(byChain.size, CHAINS, "every chain ran");
    const steps: StepRun[][] = [];
    for (const [chain, list] of byChain) {
      const order = list.map((run) => run.step);
      assert.deepEqual([...new Set(order)], [0, 1, 2, 3, 4], `chain ${chain} ran its steps in order: ${order.join(",")}`);
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `chain ${chain} never went back to an earlier step: ${order.join(",")}`);
      for (let s = 0; s < STEPS; s++) {
        const ofStep = list.filter((run) => run.step === s);
        assert.equal(new Set(ofStep.map((run) => run.id)).size, 1, `chain ${chain} step ${s} was enqueued once (runs of one job)`);
        const run = ofStep[0]!;
        if (s === 0) {
          assert.equal(run.previous, null);
        } else {
          const before = list.find((r) => r.step === s - 1)!;
          assert.equal(run.previous, before.id, `chain ${chain} step ${s} follows the job of step ${s - 1}`);
          assert.equal(run.previousStep, s, `chain ${chain} step ${s}: ctx.previous holds the result its payload came from`);
        }
        steps.push(ofStep);
      }
    }
    return steps;
  }

  test(`${CHAINS} chains of ${STEPS} steps on 4 worker processes: every step runs once, in order, and every chain completes`, async () => {
    const { runs } = await chains({ kill: false });
    assert.equal(runs.length, CHAINS * STEPS, "one run per step");
    for (const ofStep of checkChains(runs)) assert.equal(ofStep.length, 1);
    assert.ok(new Set(runs.map((run) => run.worker)).size > 1, "the processes shared the work");
  });

  test(`the same with a worker SIGKILLed every ${KILL_EVERY_RUNS} runs: no step lost, each extra run a killed process's`, async () => {
    const { runs, killed, workers } = await chains({ kill: true });
    assert.ok(killed.size >= 3, `workers were killed while chains ran (${killed.size} of ${workers})`);
    let rerun = 0;
    for (const ofStep of checkChains(runs)) {
      // Runs before the last are of a process killed while it held the step: it never finished it.
      for (const early of ofStep.slice(0, -1)) {
        assert.ok(killed.has(early.worker), `step ${ofStep[0]!.chain}/${ofStep[0]!.step} ran again after a run in ${early.worker}, which was not killed`);
      }
      if (ofStep.some((run) => run.stalls > 0)) rerun++;
    }
    assert.ok(rerun > 0, `the kills hit steps in flight, which other processes took over once their leases lapsed (${killed.size} kills)`);
  });

  test(`a flow of 1 parent and ${CHILDREN} children over 3 processes: the parent runs once, after the last child, with every result`, async () => {
    const prefix = `flow-${crypto.randomUUID().slice(0, 8)}`;
    const { store, conveyor } = open(prefix);
    const flow = await conveyor.flow({
      queue: PARENT_QUEUE,
      job: flowParent,
      payload: { children: CHILDREN },
      // Each process works one children's queue, so the split is the flow's, not the scheduler's.
      children: Array.from({ length: CHILDREN }, (_, i) => ({ queue: childQueue(i % 3), job: flowChild, payload: { i } })),
    });
    assert.equal(flow.job.state, "waiting-children");
    assert.equal(flow.children.length, CHILDREN);
    const workers = [0, 1, 2].map((slot) =>
      startWorker(prefix, `f${slot}`, { MODE: "flow", SLOT: String(slot), CONCURRENCY: "4", WORK_MS: "5" }));
    const parents = conveyor.queue(PARENT_QUEUE);
    const result = await parents.finished(flow.job, { timeoutMs: 60_000 }).catch((error) => {
      throw new Error(`${error.message}; workers said:\n${workers.map((w) => w.output()).join("\n")}`);
    });
    assert.deepEqual(result, { children: CHILDREN });

    const all = await runs(store, prefix);
    const parentRuns = all.filter((run) => run.kind === "parent");
    assert.equal(parentRuns.length, 1, "the parent ran once");
    const childRuns = all.filter((run) => run.kind === "child");
    assert.equal(childRuns.length, CHILDREN, "each child ran once");
    assert.equal(all.at(-1)!.kind, "parent", "the parent started after every child had run");
    assert.deepEqual(new Set(childRuns.map((run) => run.worker)), new Set(["f0", "f1", "f2"]), "three processes ran the children");

    const parent = parentRuns[0]!;
    assert.equal(parent.id, flow.job.id);
    const expected = flow.children.map(({ job }) => ({ queue: job.queue, id: job.id, i: (job.payload as { i: number }).i }));
    const seen = parent.children.map((c) => {
      assert.equal(c.state, "completed");
      const { i, worker } = c.result as { i: number; worker: string };
      assert.equal(worker, `f${i % 3}`, `child ${i}'s result came from the process of its queue`);
      return { queue: c.queue, id: c.id, i };
    });
    const byId = (a: { id: string; queue: string }, b: { id: string; queue: string }) => (a.queue + a.id).localeCompare(b.queue + b.id);
    assert.deepEqual(seen.sort(byId), expected.sort(byId), "ctx.children holds every child's result");
    const final = await parents.get(flow.job.id);
    assert.equal(final?.state, "completed");
    assert.equal(final?.attemptsMade, 1);
    await Promise.all(workers.map((worker) => worker.kill()));
  });
});
