// What a waiting job costs in memory: JOBS jobs with a small payload ({ i }) added and left waiting.
//   - Conveyor's memory store: V8 heap growth per job (after a forced GC, in a fresh process).
//   - Conveyor's Redis store and BullMQ 6: Redis used_memory growth per job, and MEMORY USAGE of
//     one job's hash (the rest is the job's share of the queue's sorted sets and lists).
//
//   npm run bench:job-memory      (JOBS=100000 by default; starts its own redis-server)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Queue as BullQueue } from "bullmq";
import IORedis from "ioredis";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { startRedis } from "../tests/support/redis-server.ts";

const JOBS = Number(process.env.JOBS ?? 100_000);
const small = defineJob("small", v.object({ i: v.number() }));
const gc = () => (globalThis as { gc?: () => void }).gc!();

async function heapPerJob(): Promise<number> {
  const conveyor = createConveyor();
  const queue = conveyor.queue("q");
  const payloads = Array.from({ length: JOBS }, (_, i) => ({ i }));
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < JOBS; i += 1_000) await queue.addBulk(payloads.slice(i, i + 1_000).map((payload) => ({ job: small, payload })));
  gc();
  const after = process.memoryUsage().heapUsed;
  if ((await queue.counts()).waiting !== JOBS) throw new Error("not every job is waiting");
  await conveyor.close();
  return (after - before) / JOBS;
}

async function redisPerJob(system: "conveyor" | "bullmq", url: string): Promise<{ perJob: number; hash: number }> {
  const admin = new IORedis(url);
  await admin.flushall();
  const used = async () => Number(/used_memory:(\d+)/.exec(await admin.info("memory"))![1]);
  let add: (from: number, count: number) => Promise<void>;
  let close: () => Promise<void>;
  let hashKey: string;
  if (system === "conveyor") {
    const conveyor = createConveyor({ store: new RedisStore({ connection: url, prefix: "mem" }) });
    const queue = conveyor.queue("q");
    await queue.add(small, { i: -1 }); // scripts loaded and the queue's keys made before measuring
    add = async (from, count) => void await queue.addBulk(Array.from({ length: count }, (_, k) => ({ job: small, payload: { i: from + k } })));
    close = () => conveyor.close();
    hashKey = "mem:{q}:job:2";
  } else {
    const connection = new IORedis(url, { maxRetriesPerRequest: null });
    const queue = new BullQueue("q", { connection });
    await queue.add("small", { i: -1 });
    add = async (from, count) => void await queue.addBulk(Array.from({ length: count }, (_, k) => ({ name: "small", data: { i: from + k } })));
    close = async () => {
      await queue.close();
      connection.disconnect(); // BullMQ leaves a connection it was given open
    };
    hashKey = "bull:q:2";
  }
  const before = await used();
  for (let i = 0; i < JOBS; i += 1_000) await add(i, Math.min(1_000, JOBS - i));
  const after = await used();
  const hash = Number(await admin.call("MEMORY", "USAGE", hashKey, "SAMPLES", "0"));
  await close();
  admin.disconnect();
  return { perJob: (after - before) / JOBS, hash };
}

async function main(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const heap = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", self, "--heap"], { encoding: "utf8" });
  if (heap.status !== 0) throw new Error(heap.stderr);
  const heapBytes = Number(heap.stdout.trim().split("\n").pop());
  const redis = await startRedis();
  try {
    const conveyor = await redisPerJob("conveyor", redis.url);
    const bullmq = await redisPerJob("bullmq", redis.url);
    console.log(`Memory per waiting job, ${JOBS.toLocaleString("en")} jobs with payload { i }, Node ${process.version}\n`);
    console.log("where                                   bytes per job   of which the job's own hash (MEMORY USAGE)");
    console.log(`Conveyor memory store (V8 heap)         ${heapBytes.toFixed(0).padEnd(15)} —`);
    console.log(`Conveyor Redis store (Redis memory)     ${conveyor.perJob.toFixed(0).padEnd(15)} ${conveyor.hash}`);
    console.log(`BullMQ 6 (Redis memory)                 ${bullmq.perJob.toFixed(0).padEnd(15)} ${bullmq.hash}`);
  } finally {
    await redis.stop();
  }
}

if (process.argv.includes("--heap")) {
  console.log(await heapPerJob());
  process.exit(0);
} else {
  await main();
}
