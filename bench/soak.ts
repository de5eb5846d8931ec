// Soak: a million jobs through one redis-server with 4 worker processes, to show what a long run
// does to memory and speed, and that nothing goes missing.
//
//   npm run bench:soak      (JOBS=1000000 WORKERS=4 CONCURRENCY=100 BACKLOG=20000 by default)
//
// The bench process is the producer: it adds jobs in bulks of 1,000 while fewer than BACKLOG wait,
// so the queue stays short and throughput is the workers'. Jobs are kept by no retention rule
// (`removeOnComplete: true`), so once the last one completes Redis should hold what it held before
// the first. Each worker marks the ids it ran in a bitmap it sends back when told to stop: every
// id marked once is "0 lost, 0 repeated". Printed: throughput per 100,000 jobs, each worker's RSS
// after warm-up (the first 100,000) against its mean, and Redis's used_memory before and after.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import IORedis from "ioredis";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { startRedis } from "../tests/support/redis-server.ts";

const JOBS = Number(process.env.JOBS ?? 1_000_000);
const WORKERS = Number(process.env.WORKERS ?? 4);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 100);
const BACKLOG = Number(process.env.BACKLOG ?? 20_000);
const SEGMENT = Math.max(1_000, Math.min(100_000, Math.floor(JOBS / 10)));
const BULK = 1_000;
const REPORT_MS = 250;
const QUEUE = "soak";
const soakJob = defineJob("soak", v.object({ i: v.number() }), { removeOnComplete: true });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A worker process: runs jobs, reports its count and RSS every REPORT_MS, and its bitmap on "stop". */
async function workerMain(url: string): Promise<void> {
  const conveyor = createConveyor({ store: new RedisStore({ connection: url, prefix: "soak" }) });
  const seen = new Uint8Array(Math.ceil(JOBS / 8));
  let ran = 0;
  const worker = conveyor.worker(QUEUE, { concurrency: CONCURRENCY }).handle(soakJob, ({ i }) => {
    seen[i >> 3]! |= 1 << (i & 7);
    ran++;
  });
  await worker.ready();
  const report = () => process.stdout.write(`${JSON.stringify({ ran, rss: process.memoryUsage().rss })}\n`);
  const timer = setInterval(report, REPORT_MS);
  report();
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== "stop") continue;
    clearInterval(timer);
    await conveyor.close({ timeoutMs: 5_000 });
    process.stdout.write(`${JSON.stringify({ ran, rss: process.memoryUsage().rss, seen: Buffer.from(seen).toString("base64") })}\n`);
    process.exit(0);
  }
}

interface WorkerView {
  child: ChildProcess;
  ran: number;
  rss: { at: number; bytes: number }[];
  final: Promise<{ ran: number; seen: Uint8Array }>;
}

function startWorker(url: string, totalRan: () => number): WorkerView {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--worker", url], {
    stdio: ["pipe", "pipe", "inherit"],
    env: process.env,
  });
  const view: WorkerView = { child, ran: 0, rss: [], final: undefined! };
  view.final = new Promise((resolve, reject) => {
    child.once("exit", (code) => code !== 0 && reject(new Error(`a worker exited with ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const message = JSON.parse(line) as { ran: number; rss: number; seen?: string };
      view.ran = message.ran;
      view.rss.push({ at: totalRan(), bytes: message.rss });
      if (message.seen) resolve({ ran: message.ran, seen: new Uint8Array(Buffer.from(message.seen, "base64")) });
    });
  });
  return view;
}

async function usedMemory(admin: IORedis): Promise<number> {
  const info = await admin.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const admin = new IORedis(redis.url);
  const conveyor = createConveyor({ store: new RedisStore({ connection: redis.url, prefix: "soak" }) });
  const queue = conveyor.queue(QUEUE);
  const workers: WorkerView[] = [];
  const totalRan = () => workers.reduce((sum, w) => sum + w.ran, 0);
  try {
    for (let i = 0; i < WORKERS; i++) workers.push(startWorker(redis.url, totalRan));
    while (workers.some((w) => w.rss.length === 0)) await sleep(20);
    // Baseline once every process has connected and loaded its scripts: an empty queue.
    await queue.add(soakJob, { i: 0 });
    while (totalRan() < 1) await sleep(5);
    while ((await queue.counts()).active > 0) await sleep(5);
    const baseline = await usedMemory(admin);
    let peak = baseline;

    const marks: { ran: number; at: number }[] = [{ ran: 0, at: performance.now() }];
    let added = 1; // job 0 was the warm-up
    const start = performance.now();
    while (totalRan() < JOBS) {
      const counts = await queue.counts();
      if (added < JOBS && counts.waiting < BACKLOG) {
        const count = Math.min(BULK, JOBS - added);
        await queue.addBulk(Array.from({ length: count }, (_, k) => ({ job: soakJob, payload: { i: added + k } })));
        added += count;
      } else {
        await sleep(5);
      }
      const ran = totalRan();
      while (ran >= marks.at(-1)!.ran + SEGMENT) marks.push({ ran: marks.at(-1)!.ran + SEGMENT, at: performance.now() });
      if (marks.length % 2 === 0) peak = Math.max(peak, await usedMemory(admin));
    }
    const elapsed = performance.now() - start;
    while (Object.values(await queue.counts()).some((n) => n > 0)) await sleep(20);
    await sleep(500); // one more report from each worker after the last job
    const after = await usedMemory(admin);

    for (const w of workers) w.child.stdin!.write("stop\n");
    const finals = await Promise.all(workers.map((w) => w.final));
    let marked = 0, ranTotal = 0;
    const union = new Uint8Array(Math.ceil(JOBS / 8));
    for (const f of finals) {
      ranTotal += f.ran;
      for (let b = 0; b < union.length; b++) union[b]! |= f.seen[b]!;
    }
    for (let i = 0; i < JOBS; i++) if (union[i >> 3]! & (1 << (i & 7))) marked++;

    console.log(`Conveyor soak: ${JOBS.toLocaleString("en")} jobs through Redis, ${WORKERS} worker processes × concurrency ${CONCURRENCY}, removeOnComplete: true, Node ${process.version}\n`);
    const rows: string[][] = [["segment", "jobs/s"]];
    for (let s = 1; s < marks.length; s++) {
      rows.push([`${(marks[s - 1]!.ran / 1000).toFixed(0)}k–${(marks[s]!.ran / 1000).toFixed(0)}k`, (SEGMENT / ((marks[s]!.at - marks[s - 1]!.at) / 1000)).toFixed(0)]);
    }
    print(rows);
    const rates = rows.slice(1).map((r) => Number(r[1]));
    const first = rates[0] ?? 0, last = rates.at(-1) ?? 0;
    console.log(`\noverall ${(JOBS / (elapsed / 1000)).toFixed(0)} jobs/s; last segment / first: ${(last / first).toFixed(2)}`);

    // RSS saws up and down with each garbage collection: a leak shows as a segment's mean drifting
    // from the rest, so flatness is judged on the mean of each segment after the first.
    const rssRows: string[][] = [["worker", "RSS after warm-up: min / mean / max (MB)", "segment means: first / last (MB)", "segment means vs mean"]];
    let flat = true;
    workers.forEach((w, i) => {
      const warm = w.rss.filter((r) => r.at >= SEGMENT);
      const mbOf = (bytes: number) => bytes / 2 ** 20;
      const mean = warm.reduce((a, r) => a + mbOf(r.bytes), 0) / Math.max(1, warm.length);
      const bySegment = new Map<number, number[]>();
      for (const r of warm) bySegment.set(Math.floor(r.at / SEGMENT), [...(bySegment.get(Math.floor(r.at / SEGMENT)) ?? []), mbOf(r.bytes)]);
      const means = [...bySegment.values()].map((xs) => xs.reduce((a, b) => a + b, 0) / xs.length);
      const spread = Math.max(...means.map((x) => Math.abs(x - mean) / mean));
      if (spread > 0.1) flat = false;
      const sizes = warm.map((r) => mbOf(r.bytes));
      rssRows.push([String(i + 1), `${Math.min(...sizes).toFixed(0)} / ${mean.toFixed(0)} / ${Math.max(...sizes).toFixed(0)}`, `${means[0]!.toFixed(0)} / ${means.at(-1)!.toFixed(0)}`, `±${(spread * 100).toFixed(1)}%`]);
    });
    console.log();
    print(rssRows);
    const mb = (n: number) => (n / 2 ** 20).toFixed(2);
    console.log(`\nRedis used_memory: baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, after the last job ${mb(after)} MB (${after - baseline >= 0 ? "+" : ""}${((after - baseline) / 1024).toFixed(0)} KB)`);
    const lost = JOBS - marked, repeated = ranTotal - marked;
    console.log(`jobs: ${marked.toLocaleString("en")} ran of ${JOBS.toLocaleString("en")}, ${lost} lost, ${repeated} repeated`);
    console.log(`\ngoals: worker RSS flat ±10% ${flat ? "met" : "missed"}; Redis memory back to baseline (±1 MB) ${Math.abs(after - baseline) <= 2 ** 20 ? "met" : "missed"}; 0 lost ${lost === 0 ? "met" : "missed"}; throughput steady (last ≥ 0.8× first) ${last >= 0.8 * first ? "met" : "missed"}`);
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
    await conveyor.close({ timeoutMs: 1_000 });
    admin.disconnect();
    await redis.stop();
  }
}

function print(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
}

const workerIndex = process.argv.indexOf("--worker");
if (workerIndex >= 0) await workerMain(process.argv[workerIndex + 1]!);
else await main();
