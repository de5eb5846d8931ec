// Backup and restore of many jobs on the memory store and on Redis: jobs/s and peak RSS.
//
//   npm run bench:backup            (10,000 jobs per store: a quick look)
//   FULL=1 npm run bench:backup     (100,000 jobs per store)
//   JOBS=50000 npm run bench:backup
//
// Each store runs in a fresh child process. The source holds jobs in several states: 50 %
// waiting, 20 % delayed, 30 % completed. The archive is a gzip file on disk; the restore goes
// into a new, empty store of the same kind, reading the file twice (check, then write). RSS is
// sampled every 10 ms: "before" is the process as filled, "peak" the highest seen during the
// phase. On Redis the data lives in redis-server, so a flat process RSS is what streaming buys;
// in memory the restored store itself grows the process by the jobs it now holds.
import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { FakeClock, MemoryStore, type QueueStore } from "../mod.ts";
import { backup, restore } from "../maintenance.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { startRedis } from "../tests/support/redis-server.ts";

const JOBS = Number(process.env.JOBS ?? (process.env.FULL === "1" ? 100_000 : 10_000));
const T0 = Date.UTC(2026, 0, 1);
const BATCH = 1_000;
const mb = (bytes: number) => bytes / 1024 / 1024;

function job(i: number, runAt: number) {
  return {
    id: null, name: "send-email", payload: { to: `user${i}@example.com`, template: "welcome", i }, priority: [0, 100, 200, 300][i % 4]!,
    createdAt: T0, runAt, maxAttempts: 3, backoff: { type: "fixed" as const, delayMs: 1_000 }, timeoutMs: 30_000,
    dedupKey: i % 10 === 0 ? `k${i}` : null, removeOnComplete: { count: null, ageMs: null }, removeOnFail: { count: null, ageMs: null },
    deadLetter: true, createdBy: null,
  };
}

async function fill(store: QueueStore): Promise<void> {
  const completed = Math.floor(JOBS * 0.3), delayed = Math.floor(JOBS * 0.2);
  // Completed first (enqueued, claimed, finished a batch at a time), then delayed, then waiting.
  for (let from = 0; from < completed; from += BATCH) {
    const n = Math.min(BATCH, completed - from);
    await store.enqueue("bench", { jobs: Array.from({ length: n }, (_, k) => job(from + k, T0)), now: T0 });
    const { jobs } = await store.claim("bench", { workerId: "w", limit: n, leaseMs: 60_000, now: T0 + from });
    await store.finish("bench", { outcomes: jobs.map((j) => ({ id: j.id, token: j.lease!.token, kind: "completed" as const, result: { ok: true } })), now: T0 + from + 5 });
  }
  for (let from = completed; from < JOBS; from += BATCH) {
    const n = Math.min(BATCH, JOBS - from);
    await store.enqueue("bench", { jobs: Array.from({ length: n }, (_, k) => job(from + k, from + k < completed + delayed ? T0 + 86_400_000 : T0)), now: T0 + 1_000_000 });
  }
}

/** Runs `work`, sampling RSS; returns its duration and the peak seen. */
async function measured<T>(work: () => Promise<T>): Promise<{ ms: number; beforeMb: number; peakMb: number; value: T }> {
  (globalThis as { gc?: () => void }).gc?.();
  const beforeMb = mb(process.memoryUsage.rss());
  let peak = beforeMb;
  const timer = setInterval(() => peak = Math.max(peak, mb(process.memoryUsage.rss())), 10);
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  clearInterval(timer);
  peak = Math.max(peak, mb(process.memoryUsage.rss()));
  return { ms, beforeMb, peakMb: peak, value };
}

async function child(kind: "memory" | "redis"): Promise<void> {
  const redis = kind === "redis" ? await startRedis() : undefined;
  const open = (prefix: string): QueueStore => redis ? new RedisStore({ connection: redis.url, prefix }) : new MemoryStore();
  const dir = mkdtempSync(join(tmpdir(), "conveyor-backup-"));
  const file = join(dir, "archive.jsonl.gz");
  try {
    const source = open("source");
    await fill(source);
    const out = await measured(() => backup(source, Writable.toWeb(createWriteStream(file)) as WritableStream<Uint8Array>, { queues: ["bench"] }));
    await source.close();
    const target = open("target");
    const back = await measured(() =>
      restore(target, () => Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>, { clock: new FakeClock({ startMs: T0 + 2_000_000 }) })
    );
    const counts = await target.counts("bench");
    if (back.value.jobs !== JOBS || counts.completed + counts.waiting + counts.delayed !== JOBS) throw new Error(`restored ${JSON.stringify(counts)}`);
    await target.close();
    console.log(JSON.stringify({
      kind,
      archiveMb: mb(statSync(file).size),
      backup: { jobsPerS: JOBS / (out.ms / 1000), beforeMb: out.beforeMb, peakMb: out.peakMb },
      restore: { jobsPerS: JOBS / (back.ms / 1000), beforeMb: back.beforeMb, peakMb: back.peakMb },
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await redis?.stop();
  }
}

async function main(): Promise<void> {
  if (process.env.BENCH_CHILD) return await child(process.env.BENCH_CHILD as "memory" | "redis");
  const self = fileURLToPath(import.meta.url);
  const rows: string[][] = [["store", "jobs", "archive", "backup jobs/s", "backup RSS before → peak", "restore jobs/s", "restore RSS before → peak"]];
  for (const kind of ["memory", "redis"] as const) {
    const run = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", self], { env: { ...process.env, BENCH_CHILD: kind }, encoding: "utf8" });
    if (run.status !== 0) throw new Error(`${kind} run failed:\n${run.stderr}`);
    const r = JSON.parse(run.stdout.trim().split("\n").pop()!);
    const rss = (p: { beforeMb: number; peakMb: number }) => `${p.beforeMb.toFixed(0)} → ${p.peakMb.toFixed(0)} MB`;
    rows.push([kind, JOBS.toLocaleString("en"), `${r.archiveMb.toFixed(1)} MB`, Math.round(r.backup.jobsPerS).toLocaleString("en"), rss(r.backup), Math.round(r.restore.jobsPerS).toLocaleString("en"), rss(r.restore)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log(`Backup and restore, ${JOBS.toLocaleString("en")} jobs (30 % completed, 20 % delayed, 50 % waiting), node ${process.version}\n`);
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
}

await main();
