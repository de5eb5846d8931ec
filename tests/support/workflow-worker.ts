// The jobs of tests/redis-workflow-processes.test.ts and, with WORKFLOW_WORKER=1, a worker process
// that runs them. Every run of a handler is pushed to the Redis list <prefix>:runs as JSON before
// the handler does anything else, so the test sees each run, in the order they started, and which
// process made it (WORKER_ID names one process, never reused).
//   MODE=chain  works CHAIN_QUEUE: each step records { kind: "step", chain, step, id, previous, … }
//               and returns { chain, step: step + 1 }, the next step's inherited payload.
//   MODE=flow   works childQueue(SLOT) (children) and PARENT_QUEUE (the parent, which records
//               ctx.children).
// LEASE_MS, STALL_CHECK_MS, CONCURRENCY and WORK_MS (how long each handler works) tune it.
import process from "node:process";
import * as v from "valibot";
import { createConveyor, defineJob } from "../../mod.ts";
import { RedisStore } from "../../redis.ts";
import { workFor } from "../fixtures/work-job.ts";

export const CHAIN_QUEUE = "chains";
export const PARENT_QUEUE = "flow-parents";
export const childQueue = (slot: number) => `flow-kids-${slot}`;

// Kept once completed, so the test can count them.
const keep = { removeOnComplete: false } as const;
export const chainStep = defineJob("chain-step", v.object({ chain: v.number(), step: v.number() }), keep);
export const flowChild = defineJob("flow-child", v.object({ i: v.number() }), keep);
export const flowParent = defineJob("flow-parent", v.object({ children: v.number() }), keep);

/** One handler run, as the worker records it. */
export type Run =
  | { kind: "step"; chain: number; step: number; id: string; previous: string | null; previousStep: number | null; stalls: number; worker: string }
  | { kind: "child"; i: number; id: string; queue: string; worker: string }
  | { kind: "parent"; id: string; worker: string; children: { queue: string; id: string; state: string; result?: unknown }[] };

export const runsKey = (prefix: string) => `${prefix}:runs`;

if (process.env.WORKFLOW_WORKER === "1") {
  const env = (name: string, fallback?: string) => {
    const value = process.env[name] ?? fallback;
    if (value === undefined) throw new Error(`${name} is not set`);
    return value;
  };
  const prefix = env("PREFIX");
  const workerId = env("WORKER_ID");
  const workMs = Number(env("WORK_MS", "0"));
  const store = new RedisStore({ connection: env("REDIS_URL"), prefix });
  const conveyor = createConveyor({ store });
  const recorder = await store.client();
  const record = (run: Run) => recorder.call("RPUSH", runsKey(prefix), JSON.stringify(run));
  const options = {
    id: workerId,
    concurrency: Number(env("CONCURRENCY", "8")),
    leaseMs: Number(env("LEASE_MS", "3000")),
    stallCheckMs: Number(env("STALL_CHECK_MS", "200")),
    // A step may be taken from several killed workers in turn; it must not be failed for that.
    maxStalls: 1_000,
    errorRetryMs: 50,
  };
  const workers = [];
  if (env("MODE") === "chain") {
    workers.push(conveyor.worker(CHAIN_QUEUE, options).handle(chainStep, async ({ chain, step }, ctx) => {
      const previousResult = ctx.previous?.result as { step?: number } | undefined;
      await record({
        kind: "step", chain, step, id: ctx.id, previous: ctx.previous?.id ?? null, previousStep: previousResult?.step ?? null,
        stalls: ctx.job.stalls, worker: workerId,
      });
      await workFor(workMs, ctx.signal);
      return { chain, step: step + 1 };
    }));
  } else {
    const slot = Number(env("SLOT"));
    workers.push(conveyor.worker(childQueue(slot), options).handle(flowChild, async ({ i }, ctx) => {
      await record({ kind: "child", i, id: ctx.id, queue: ctx.queue, worker: workerId });
      await workFor(workMs, ctx.signal);
      return { i, worker: workerId };
    }));
    workers.push(conveyor.worker(PARENT_QUEUE, options).handle(flowParent, async (_payload, ctx) => {
      const children = ctx.children.map(({ queue, id, state, result }) => ({ queue, id, state, result }));
      await record({ kind: "parent", id: ctx.id, worker: workerId, children });
      return { children: children.length };
    }));
  }
  for (const worker of workers) worker.addEventListener("error", () => {});
  await Promise.all(workers.map((worker) => worker.ready()));
  console.log("ready");
}
