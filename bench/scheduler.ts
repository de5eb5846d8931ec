// Firing lateness of a per-second cron schedule: Conveyor's scheduler on the memory store and
// on Redis, and BullMQ's job scheduler on the same local redis-server, each in its own child
// process, one after the other.
//
//   npm run bench:scheduler        (TICKS=60 by default: about one minute per system)
//
// Two figures per tick: "enqueued" (intended tick → the job is in the store, seen by an event
// subscriber; BullMQ has none: it adds each run ahead of time as a delayed job) and "started"
// (intended tick → a worker's handler is running), the one both systems can be compared on.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Queue as BullQueue, Worker as BullWorker } from "bullmq";
import IORedis from "ioredis";
import * as v from "valibot";
import { createConveyor, defineJob, MemoryStore } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { startRedis } from "../tests/support/redis-server.ts";

const TICKS = Number(process.env.TICKS ?? 60);
type System = "conveyor-memory" | "conveyor-redis" | "bullmq";
const SYSTEMS: System[] = ["conveyor-memory", "conveyor-redis", "bullmq"];

const beat = defineJob("beat", v.object({}));
/** Wall-clock now with sub-millisecond precision. */
const now = () => performance.timeOrigin + performance.now();

interface Result {
  enqueued: number[];
  started: number[];
}

async function runConveyor(system: System, url: string): Promise<Result> {
  const store = system === "conveyor-memory" ? new MemoryStore() : new RedisStore({ connection: url, prefix: "bench-sched" });
  const conveyor = createConveyor({ store });
  const result: Result = { enqueued: [], started: [] };
  const tickOf = (jobId: string) => Number(jobId.split(":").pop());
  const queue = conveyor.queue("ticks");
  queue.events.addEventListener("enqueued", (e) => result.enqueued.push(now() - tickOf(e.data.jobId)));
  await queue.events.ready();
  const worker = conveyor.worker(queue, { concurrency: 1 }).handle(beat, (_, ctx) => void result.started.push(now() - tickOf(ctx.id)));
  await worker.ready();
  const scheduler = conveyor.scheduler({ autostart: false });
  await scheduler.schedule("beat", "* * * * * *", { queue: "ticks", job: beat, payload: {} }, { overlap: "allow" });
  await scheduler.start();
  while (result.started.length <= TICKS) await new Promise((resolve) => setTimeout(resolve, 100));
  await conveyor.close({ timeoutMs: 1_000 });
  return result;
}

async function runBullmq(url: string): Promise<Result> {
  const connection = new IORedis(url, { maxRetriesPerRequest: null });
  const queue = new BullQueue("ticks", { connection });
  const result: Result = { enqueued: [], started: [] };
  const worker = new BullWorker("ticks", async (job) => {
    result.started.push(now() - Number(job.opts.prevMillis));
  }, { connection: connection.duplicate(), concurrency: 1 });
  await worker.waitUntilReady();
  await queue.upsertJobScheduler("beat", { pattern: "* * * * * *" }, { name: "beat", data: {} });
  while (result.started.length <= TICKS) await new Promise((resolve) => setTimeout(resolve, 100));
  await worker.close();
  await queue.close();
  connection.disconnect();
  return result;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function child(system: System, url: string): Promise<void> {
  const result = system === "bullmq" ? await runBullmq(url) : await runConveyor(system, url);
  // The first tick after start can be a catch-up or a partial second: measure steady state.
  const steady = (values: number[]) => values.slice(1, TICKS + 1);
  console.log(JSON.stringify({ enqueued: steady(result.enqueued), started: steady(result.started) }));
  process.exit(0);
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const self = fileURLToPath(import.meta.url);
  const rows: string[][] = [];
  try {
    console.log(`Scheduler firing lateness, per-second cron, ${TICKS} ticks per system (ms, intended tick → …)\n`);
    for (const system of SYSTEMS) {
      spawnSync("redis-cli", ["-u", redis.url, "FLUSHALL"]);
      const out = spawnSync(process.execPath, ["--import", "tsx", self], {
        env: { ...process.env, BENCH_CHILD: system, REDIS_URL: redis.url },
        encoding: "utf8",
        timeout: (TICKS + 30) * 1_000,
      });
      const line = out.stdout.trim().split("\n").at(-1) ?? "";
      if (!line.startsWith("{")) throw new Error(`${system} failed:\n${out.stdout}\n${out.stderr}`);
      const { enqueued, started } = JSON.parse(line) as Result;
      const fmt = (values: number[], p: number) => values.length ? percentile(values, p).toFixed(2) : "n/a";
      rows.push([system, String(started.length), fmt(enqueued, 50), fmt(enqueued, 99), fmt(started, 50), fmt(started, 99)]);
    }
  } finally {
    await redis.stop();
  }
  const header = ["system", "ticks", "enqueued p50", "enqueued p99", "started p50", "started p99"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
  const started = (name: string) => Number(rows.find((r) => r[0] === name)?.[5]);
  console.log(`\nstarted p99, Conveyor on Redis / BullMQ: ${(started("conveyor-redis") / started("bullmq")).toFixed(2)} (lower is better)`);
  console.log("Goal (issue 4): enqueued p99 < 20 ms on memory, < 30 ms on Redis.");
}

if (process.env.BENCH_CHILD) await child(process.env.BENCH_CHILD as System, process.env.REDIS_URL!);
else await main();
