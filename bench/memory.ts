// Memory backend throughput against bare fastq and p-queue loops doing the same no-op work.
//
//   npm run bench:memory            (JOBS=100000 ROUNDS=3 by default)
//
// Each figure is measured in a fresh child process (so peak RSS belongs to that phase alone),
// rotating the order of Conveyor, fastq and p-queue, and the median of ROUNDS runs is printed
// with Conveyor's ratio to each.
// Phases: add (awaited one by one, no worker), addBulk (chunks of 1,000), process at
// concurrency 1 and 100 (jobs already queued; time until the last one finishes).
// Also: how late delayed jobs start (Conveyor against a bare setTimeout).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import fastq from "fastq";
import PQueue from "p-queue";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";

const JOBS = Number(process.env.JOBS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
type Phase = "add" | "addBulk" | "process-c1" | "process-c100";
type System = "conveyor" | "fastq" | "p-queue";
const SYSTEMS: System[] = ["conveyor", "fastq", "p-queue"];
interface Sample {
  jobsPerSec: number;
  peakRssMb: number;
}

const noop = defineJob("noop", v.object({ i: v.number() }));

async function conveyorPhase(phase: Phase): Promise<number> {
  const conveyor = createConveyor();
  const queue = conveyor.queue("bench");
  const payloads = Array.from({ length: JOBS }, (_, i) => ({ i }));
  if (phase === "add") {
    const start = performance.now();
    for (const payload of payloads) await queue.add(noop, payload);
    return elapsed(start);
  }
  if (phase === "addBulk") {
    const start = performance.now();
    for (let i = 0; i < JOBS; i += 1_000) {
      await queue.addBulk(payloads.slice(i, i + 1_000).map((payload) => ({ job: noop, payload })));
    }
    return elapsed(start);
  }
  for (let i = 0; i < JOBS; i += 1_000) {
    await queue.addBulk(payloads.slice(i, i + 1_000).map((payload) => ({ job: noop, payload })));
  }
  const concurrency = phase === "process-c1" ? 1 : 100;
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    queue.events.addEventListener("drained", () => resolve());
  });
  const start = performance.now();
  conveyor.worker(queue, { concurrency }).handle(noop, async () => {
    done++;
  });
  await finished;
  const ms = elapsed(start);
  if (done !== JOBS) throw new Error(`processed ${done} of ${JOBS}`);
  await conveyor.close();
  return ms;
}

async function fastqPhase(phase: Phase): Promise<number> {
  const concurrency = phase === "process-c100" ? 100 : 1;
  let done = 0;
  const q = fastq.promise(async (_task: { i: number }) => {
    done++;
  }, concurrency);
  const payloads = Array.from({ length: JOBS }, (_, i) => ({ i }));
  q.pause();
  if (phase === "add" || phase === "addBulk") {
    // fastq has no bulk add: both phases are plain pushes into a paused queue.
    const start = performance.now();
    for (const payload of payloads) void q.push(payload);
    return elapsed(start);
  }
  for (const payload of payloads) void q.push(payload);
  const start = performance.now();
  q.resume();
  await q.drained();
  const ms = elapsed(start);
  if (done !== JOBS) throw new Error(`processed ${done} of ${JOBS}`);
  return ms;
}

async function pqueuePhase(phase: Phase): Promise<number> {
  let done = 0;
  const q = new PQueue({ concurrency: phase === "process-c100" ? 100 : 1, autoStart: false });
  const task = async () => {
    done++;
  };
  if (phase === "add" || phase === "addBulk") {
    // p-queue's addAll is add in a loop: both phases are plain adds into a stopped queue.
    const start = performance.now();
    for (let i = 0; i < JOBS; i++) void q.add(task);
    return elapsed(start);
  }
  for (let i = 0; i < JOBS; i++) void q.add(task);
  const start = performance.now();
  q.start();
  await q.onIdle();
  const ms = elapsed(start);
  if (done !== JOBS) throw new Error(`processed ${done} of ${JOBS}`);
  return ms;
}

function elapsed(start: number): number {
  return performance.now() - start;
}

/**
 * Lateness of delayed jobs: start time minus due time, for Conveyor and a bare setTimeout.
 * A warm-up round runs first, and delays start at 100 ms, so the figure is about timer
 * precision rather than how long a cold process takes to enqueue the batch.
 */
async function lateness(): Promise<{ conveyor: number[]; timer: number[] }> {
  const count = 1_000;
  const delays = Array.from({ length: count }, (_, i) => 100 + (i * 7919) % 900);
  const measure = async (delaysMs: number[]) => {
    const conveyor = createConveyor();
    const queue = conveyor.queue("lateness");
    const late: number[] = [];
    const allStarted = new Promise<void>((resolve) => {
      conveyor.worker(queue, { concurrency: 50 }).handle(noop, (_, ctx) => {
        late.push(Date.now() - ctx.job.runAt);
        if (late.length === delaysMs.length) resolve();
      });
    });
    await queue.addBulk(delaysMs.map((delayMs, i) => ({ job: noop, payload: { i }, options: { delayMs } })));
    await allStarted;
    await conveyor.close();
    return late;
  };
  await measure(delays.map((d) => d % 50));
  const late = await measure(delays);
  const timer = await Promise.all(delays.map((delayMs) => {
    const due = Date.now() + delayMs;
    return new Promise<number>((resolve) => setTimeout(() => resolve(Date.now() - due), delayMs));
  }));
  return { conveyor: late, timer };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(values: number[]): number {
  return percentile(values, 50);
}

async function child(system: System, phase: Phase): Promise<void> {
  const run = { conveyor: conveyorPhase, fastq: fastqPhase, "p-queue": pqueuePhase }[system];
  const ms = await run(phase);
  const sample: Sample = {
    jobsPerSec: Math.round(JOBS / (ms / 1000)),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  console.log(JSON.stringify(sample));
}

function spawnPhase(system: System, phase: Phase): Sample {
  const self = fileURLToPath(import.meta.url);
  const result = spawnSync(process.execPath, ["--import", "tsx", self, "--child", system, phase], {
    encoding: "utf8",
    env: { ...process.env, JOBS: String(JOBS) },
  });
  if (result.status !== 0) throw new Error(`${system} ${phase} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").pop()!);
}

async function main(): Promise<void> {
  const phases: Phase[] = ["add", "addBulk", "process-c1", "process-c100"];
  console.log(`Conveyor (memory) vs bare fastq and p-queue — ${JOBS.toLocaleString("en")} no-op jobs, median of ${ROUNDS} rounds, Node ${process.version}\n`);
  const rows: string[][] = [[
    "phase", "conveyor jobs/s", "fastq jobs/s", "p-queue jobs/s", "vs fastq", "vs p-queue", "peak RSS conveyor / fastq / p-queue",
  ]];
  for (const phase of phases) {
    const samples: Record<System, Sample[]> = { conveyor: [], fastq: [], "p-queue": [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = SYSTEMS.map((_, i) => SYSTEMS[(i + round) % SYSTEMS.length]!);
      for (const system of order) samples[system].push(spawnPhase(system, phase));
    }
    const rate = (system: System) => median(samples[system].map((s) => s.jobsPerSec));
    const rss = (system: System) => median(samples[system].map((s) => s.peakRssMb));
    rows.push([
      phase,
      ...SYSTEMS.map((system) => rate(system).toLocaleString("en")),
      (rate("conveyor") / rate("fastq")).toFixed(2),
      (rate("conveyor") / rate("p-queue")).toFixed(2),
      SYSTEMS.map((system) => `${rss(system)}`).join(" / ") + " MB",
    ]);
  }
  printTable(rows);
  const late = await lateness();
  console.log(`\nDelayed-job lateness (1,000 jobs due 100–1,000 ms out, after a warm-up; start time minus due time):`);
  printTable([
    ["", "p50", "p99", "max"],
    ["conveyor", ...[50, 99, 100].map((p) => `${percentile(late.conveyor, p)} ms`)],
    ["bare setTimeout", ...[50, 99, 100].map((p) => `${percentile(late.timer, p)} ms`)],
  ]);
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) await child(process.argv[childIndex + 1] as System, process.argv[childIndex + 2] as Phase);
else await main();
