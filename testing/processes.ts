// The conformance cases with real processes, for stores shared across processes: several worker
// processes on one queue, a worker killed with SIGKILL mid-job, a producer killed before anyone
// read its jobs. Real time here, but only what the store promises is asserted: every job runs,
// none is lost, and no two runs of a job overlap while its lease is valid.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { createConveyor, type QueueStore } from "../mod.ts";
import { KEEP, KIT_QUEUE, kitJob } from "./process-job.ts";
import { type StoreUnderTest, waitFor } from "./target.ts";

declare const Deno: unknown;
declare const Bun: unknown;

const CHILD = new URL(`./process-child${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url).pathname;

/** The child runs on the runtime running the tests (Node through tsx for TypeScript). */
function command(): [string, string[]] {
  if (typeof Deno !== "undefined") return [process.execPath, ["run", "--allow-all", "--unstable-kv", CHILD]];
  if (typeof Bun !== "undefined") return [process.execPath, [CHILD]];
  return [process.execPath, CHILD.endsWith(".ts") ? ["--import", "tsx", CHILD] : [CHILD]];
}

interface Child {
  readonly process: ChildProcess;
  lines(prefix: string): string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function start(target: StoreUnderTest, store: QueueStore, env: Record<string, string>): Child {
  const [cmd, args] = command();
  const child = spawn(cmd, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...target.processes!.env(store), CONVEYOR_STORE_MODULE: target.processes!.module, ...env },
  });
  let output = "";
  child.stdout!.on("data", (chunk) => output += chunk);
  child.stderr!.on("data", (chunk) => output += chunk);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    process: child,
    lines: (prefix) => output.split("\n").filter((line) => line.startsWith(prefix)),
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

interface Run {
  readonly job: string;
  readonly worker: string;
  readonly start: number;
  readonly end: number;
}

async function runsOf(store: QueueStore): Promise<Run[]> {
  return (await store.listRecords<{ start: number; end: number }>("kit-runs")).map(({ key, value }) => {
    const [job, worker] = key.split(":");
    return { job: job!, worker: worker!, ...value };
  });
}

async function withProcesses(target: StoreUnderTest, body: (store: QueueStore, started: (env: Record<string, string>) => Child) => Promise<void>) {
  const store = await target.create();
  const children: Child[] = [];
  try {
    await body(store, (env) => {
      const child = start(target, store, env);
      children.push(child);
      return child;
    });
  } finally {
    await Promise.all(children.map((child) => child.kill()));
    await store.close();
  }
}

const completed = async (store: QueueStore) => (await store.counts(KIT_QUEUE)).completed;

export function processCases(target: StoreUnderTest): void {
  const total = target.processes?.jobs ?? 30;
  test(`processes: three worker processes share ${total} jobs; each runs once, none lost`, async () => {
    await withProcesses(target, async (store, started) => {
      assert.ok(store.capabilities.sharedAcrossProcesses, "process cases are for stores shared across processes");
      const queue = createConveyor({ store }).queue(KIT_QUEUE);
      for (const id of ["a", "b", "c"]) started({ WORKER_ID: id, WORK_MS: "2", CONCURRENCY: "8" });
      const jobs = [];
      for (let i = 0; i < total; i += 500) {
        jobs.push(...await queue.addBulk(Array.from({ length: Math.min(500, total - i) }, (_, k) => ({ job: kitJob, payload: { n: i + k }, options: KEEP }))));
      }
      await waitFor(async () => (await completed(store)) === jobs.length, "every job completed", 120_000);
      const runs = await runsOf(store);
      assert.deepEqual(runs.map((r) => r.job).sort(), jobs.map((j) => j.id).sort(), "each job ran exactly once");
      assert.ok(new Set(runs.map((r) => r.worker)).size > 1, "the processes shared the work");
    });
  });

  test("processes: a worker killed mid-job (SIGKILL) loses nothing; another finishes its jobs", async () => {
    await withProcesses(target, async (store, started) => {
      const conveyor = createConveyor({ store });
      const jobs = await conveyor.queue(KIT_QUEUE).addBulk(Array.from({ length: 12 }, (_, n) => ({ job: kitJob, payload: { n }, options: KEEP })));
      const doomed = started({ WORKER_ID: "doomed", WORK_MS: "600000", LEASE_MS: "1000", CONCURRENCY: "4" });
      await waitFor(() => doomed.lines("started ").length === 4, "the doomed worker holding four jobs", 60_000);
      await doomed.kill("SIGKILL");
      started({ WORKER_ID: "heir", WORK_MS: "10", LEASE_MS: "1000" });
      await waitFor(async () => (await completed(store)) === jobs.length, "every job completed by the heir", 60_000);
      const runs = await runsOf(store);
      assert.deepEqual(runs.map((r) => r.job).sort(), jobs.map((j) => j.id).sort(), "every job's one finished run");
      assert.ok(runs.every((r) => r.worker === "heir"));
    });
  });

  test("processes: jobs of a producer killed before any worker read them are all there, and run", async () => {
    await withProcesses(target, async (store, started) => {
      const producer = started({ ROLE: "producer", JOBS: "20" });
      await waitFor(() => producer.lines("enqueued").length === 1, "the producer's jobs", 60_000);
      await producer.kill("SIGKILL");
      assert.equal((await store.counts(KIT_QUEUE)).waiting, 20);
      started({ WORKER_ID: "w", WORK_MS: "1" });
      await waitFor(async () => (await completed(store)) === 20, "every job completed", 60_000);
      assert.equal((await runsOf(store)).length, 20);
    });
  });
}
