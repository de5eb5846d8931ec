// Conveyor's Redis store against BullMQ on one local redis-server (at its defaults, RDB
// snapshots off so no fork lands inside a measurement).
//
//   npm run bench:redis            (JOBS=10000 ROUNDS=3 by default; PHASES=a,b for some of them;
//                                   AUDIT=1 runs Conveyor with its audit log of operator actions on;
//                                   PEERS=bullmq for BullMQ alone, default bullmq,bee-queue)
//
// Peers: BullMQ 6 and bee-queue 2 (a leaner Redis queue: no priorities or flows, one Lua script
// per move), each at its defaults but keeping completed jobs, as Conveyor does here.
//
// Each (system, phase) runs in a fresh child process, alternating which system goes first,
// with FLUSHALL between runs; the median of ROUNDS runs is printed with the ratio
// Conveyor / BullMQ (higher is better for throughput; for latency, lower is better).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Queue as BullQueue, Worker as BullWorker } from "bullmq";
import BeeQueue from "bee-queue";
import IORedis from "ioredis";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { startRedis } from "../tests/support/redis-server.ts";

const JOBS = Number(process.env.JOBS ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
type System = "conveyor" | "bullmq" | "bee-queue";
const PEERS = (process.env.PEERS ?? "bullmq,bee-queue").split(",").filter((p): p is System => p === "bullmq" || p === "bee-queue");
const SYSTEMS: System[] = ["conveyor", ...PEERS];
type Phase = "add" | "addBulk" | "process-c1" | "process-c10" | "process-c100" | "latency" | "delayed";
const ALL_PHASES: Phase[] = ["add", "addBulk", "process-c1", "process-c10", "process-c100", "latency", "delayed"];
/** PHASES=process-c1,process-c100 runs just those. */
const PHASES = process.env.PHASES ? ALL_PHASES.filter((p) => process.env.PHASES!.split(",").includes(p)) : ALL_PHASES;
interface Sample {
  value: number;
  p50?: number;
  p99?: number;
  peakRssMb: number;
}

const noop = defineJob("noop", v.object({ i: v.number() }));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A system under test, reduced to what the phases need. */
interface Harness {
  add(i: number, delayMs?: number): Promise<void>;
  addBulk(from: number, count: number): Promise<void>;
  /** Starts a worker; `onStart` gets the job's enqueue time and (for delayed jobs) its due time. */
  work(concurrency: number, onStart: (createdAt: number, dueAt: number) => void): Promise<void>;
  completed(): Promise<number>;
  close(): Promise<void>;
}

async function conveyorHarness(url: string): Promise<Harness> {
  const store = new RedisStore({ connection: url, prefix: "bench" });
  const conveyor = createConveyor({ store, audit: process.env.AUDIT === "1" });
  const queue = conveyor.queue("bench");
  const keep = { removeOnComplete: false } as const;
  return {
    add: async (i, delayMs) => void await queue.add(noop, { i }, delayMs ? { ...keep, delayMs } : keep),
    addBulk: async (from, count) =>
      void await queue.addBulk(Array.from({ length: count }, (_, k) => ({ job: noop, payload: { i: from + k }, options: keep }))),
    work: async (concurrency, onStart) => {
      const worker = conveyor.worker(queue, { concurrency }).handle(noop, (_, ctx) => onStart(ctx.job.createdAt, ctx.job.runAt));
      await worker.ready();
    },
    completed: async () => (await queue.counts()).completed,
    close: () => conveyor.close({ timeoutMs: 1_000 }),
  };
}

async function bullmqHarness(url: string): Promise<Harness> {
  const connection = new IORedis(url, { maxRetriesPerRequest: null });
  const queue = new BullQueue("bench", { connection });
  let worker: BullWorker | undefined;
  return {
    add: async (i, delayMs) => void await queue.add("noop", { i }, delayMs ? { delay: delayMs } : {}),
    addBulk: async (from, count) =>
      void await queue.addBulk(Array.from({ length: count }, (_, k) => ({ name: "noop", data: { i: from + k } }))),
    work: async (concurrency, onStart) => {
      worker = new BullWorker("bench", async (job) => onStart(job.timestamp, job.timestamp + (job.opts.delay ?? 0)), {
        connection: new IORedis(url, { maxRetriesPerRequest: null }),
        concurrency,
      });
      await worker.waitUntilReady();
    },
    completed: async () => (await queue.getJobCounts("completed")).completed ?? 0,
    close: async () => {
      await worker?.close();
      await queue.close();
      connection.disconnect();
    },
  };
}

async function beeQueueHarness(url: string): Promise<Harness> {
  const common = { redis: { url }, getEvents: false, removeOnSuccess: false } as const;
  const queue = new BeeQueue("bench", { ...common, isWorker: false, sendEvents: false, activateDelayedJobs: false });
  let worker: BeeQueue | undefined;
  const job = (i: number, delayMs?: number) => {
    const created = queue.createJob({ i });
    return delayMs ? created.delayUntil(Date.now() + delayMs) : created;
  };
  await queue.ready();
  return {
    add: async (i, delayMs) => void await job(i, delayMs).save(),
    addBulk: async (from, count) => void await queue.saveAll(Array.from({ length: count }, (_, k) => job(from + k))),
    work: async (concurrency, onStart) => {
      // Delayed jobs are moved to waiting by a worker that asks to (activateDelayedJobs).
      worker = new BeeQueue("bench", { ...common, isWorker: true, sendEvents: false, activateDelayedJobs: true });
      worker.process(concurrency, async (j) => onStart(j.options.timestamp, j.options.delay ?? j.options.timestamp));
      await worker.ready();
    },
    completed: async () => (await queue.checkHealth()).succeeded,
    close: async () => {
      await worker?.close(1_000);
      await queue.close(1_000);
    },
  };
}

const harnesses: Record<System, (url: string) => Promise<Harness>> = { conveyor: conveyorHarness, bullmq: bullmqHarness, "bee-queue": beeQueueHarness };

async function runPhase(system: System, phase: Phase, url: string): Promise<Omit<Sample, "peakRssMb">> {
  const h = await harnesses[system](url);
  try {
    if (phase === "add") {
      const start = performance.now();
      for (let i = 0; i < JOBS; i++) await h.add(i);
      return { value: JOBS / ((performance.now() - start) / 1000) };
    }
    if (phase === "addBulk") {
      const start = performance.now();
      for (let i = 0; i < JOBS; i += 1_000) await h.addBulk(i, Math.min(1_000, JOBS - i));
      return { value: JOBS / ((performance.now() - start) / 1000) };
    }
    if (phase.startsWith("process")) {
      for (let i = 0; i < JOBS; i += 1_000) await h.addBulk(i, Math.min(1_000, JOBS - i));
      let started = 0;
      const start = performance.now();
      await h.work(Number(phase.slice("process-c".length)), () => void started++);
      while (started < JOBS) await sleep(2);
      while ((await h.completed()) < JOBS) await sleep(2);
      return { value: JOBS / ((performance.now() - start) / 1000) };
    }
    // Latency phases: a worker waits, jobs arrive one at a time.
    const count = phase === "latency" ? 1_000 : 200;
    const delays: number[] = [];
    await h.work(10, (createdAt, dueAt) => void delays.push(Date.now() - (phase === "latency" ? createdAt : dueAt)));
    for (let i = 0; i < count; i++) {
      await h.add(i, phase === "delayed" ? 500 : undefined);
      await sleep(phase === "latency" ? 1 : 5);
    }
    while (delays.length < count) await sleep(10);
    delays.sort((a, b) => a - b);
    const at = (p: number) => delays[Math.min(count - 1, Math.floor((p / 100) * count))]!;
    return { value: at(99), p50: at(50), p99: at(99) };
  } finally {
    await h.close();
  }
}

function spawnPhase(system: System, phase: Phase, url: string): Sample {
  const self = fileURLToPath(import.meta.url);
  const result = spawnSync(process.execPath, ["--import", "tsx", self, "--child", system, phase, url], {
    encoding: "utf8",
    env: { ...process.env, JOBS: String(JOBS) },
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`${system} ${phase} failed:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").pop()!);
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1]!;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const admin = new IORedis(redis.url);
  const version = String(await admin.info("server")).match(/redis_version:(\S+)/)?.[1];
  const hz = (await admin.config("GET", "hz") as string[])[1];
  console.log(`Conveyor (Redis store) vs ${PEERS.map((p) => `${p === "bullmq" ? "BullMQ" : "bee-queue"} ${peerVersion(p)}`).join(" and ")} — ${JOBS.toLocaleString("en")} jobs, median of ${ROUNDS} rounds, Redis ${version} (hz ${hz}), Node ${process.version}\n`);
  const rows: string[][] = [["figure", ...SYSTEMS, ...PEERS.map((p) => `ratio vs ${p}`), `peak RSS ${SYSTEMS.join(" / ")}`]];
  for (const phase of PHASES) {
    const samples = Object.fromEntries(SYSTEMS.map((s) => [s, [] as Sample[]])) as Record<System, Sample[]>;
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts with the next system, so none always runs first (or last) on a warm machine.
      for (let k = 0; k < SYSTEMS.length; k++) {
        const system = SYSTEMS[(round + k) % SYSTEMS.length]!;
        await admin.flushall();
        samples[system].push(spawnPhase(system, phase, redis.url));
      }
    }
    const rssCell = `${SYSTEMS.map((s) => median(samples[s].map((x) => x.peakRssMb))).join(" / ")} MB`;
    if (phase === "latency" || phase === "delayed") {
      for (const p of ["p50", "p99"] as const) {
        const at = (s: System) => median(samples[s].map((x) => x[p]!));
        const label = phase === "latency" ? `add→start ${p}` : `500 ms delayed lateness ${p}`;
        const ratios = PEERS.map((peer) => at(peer) === 0 ? "—" : `${(at("conveyor") / at(peer)).toFixed(2)} (lower is better)`);
        rows.push([label, ...SYSTEMS.map((s) => `${at(s)} ms`), ...ratios, p === "p50" ? rssCell : ""]);
      }
    } else {
      const at = (s: System) => median(samples[s].map((x) => x.value));
      const label = { add: "add, awaited one by one", addBulk: "addBulk (1,000 a call)" }[phase as "add"] ??
        `process, concurrency ${phase.slice("process-c".length)}`;
      rows.push([`${label} (jobs/s)`, ...SYSTEMS.map((s) => Math.round(at(s)).toLocaleString("en")), ...PEERS.map((peer) => (at("conveyor") / at(peer)).toFixed(2)), rssCell]);
    }
  }
  printTable(rows);
  admin.disconnect();
  await redis.stop();
}

function peerVersion(peer: System): string {
  return createRequire(import.meta.url)(`${peer}/package.json`).version;
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) {
  const [system, phase, url] = process.argv.slice(childIndex + 1) as [System, Phase, string];
  const sample = await runPhase(system, phase, url);
  console.log(JSON.stringify({ ...sample, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));
  process.exit(0);
} else {
  await main();
}
