// The Deno KV store on a local SQLite file shared by 3 worker processes: jobs/s from the workers'
// start to the last completion, with JOBS no-op jobs added beforehand. Runs the processes on
// Node (through @deno/kv) and on Deno (Deno.openKv), side by side.
//
//   npm run bench:deno-kv      (JOBS=10000 WORKERS=3 CONCURRENCY=50 ROUNDS=3 by default; RUNTIMES=node,deno)
//
// Each worker process opens the file, runs until the queue is empty, and prints how many it ran.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";
import { DenoKvStore } from "../src/store/deno-kv/store.ts";
import { openDenoKv } from "../tests/support/deno-kv.ts";

const JOBS = Number(process.env.JOBS ?? 10_000);
const WORKERS = Number(process.env.WORKERS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const RUNTIMES = (process.env.RUNTIMES ?? "node,deno").split(",");
const noop = defineJob("noop", v.object({ i: v.number() }), { removeOnComplete: true });
const self = fileURLToPath(import.meta.url);
const root = join(self, "..", "..");

/** A worker process: runs jobs until none is left for a while, then prints its count. */
async function workerMain(path: string): Promise<void> {
  const kv = await openDenoKv(path);
  const conveyor = createConveyor({ store: new DenoKvStore({ kv, prefix: "bench", pollMs: 20 }) });
  let ran = 0, lastAt = 0;
  const worker = conveyor.worker("bench", { concurrency: CONCURRENCY }).handle(noop, () => {
    ran++;
    lastAt = Date.now();
  });
  await worker.ready();
  console.log("ready");
  const queue = conveyor.queue("bench");
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const counts = await queue.counts();
    if (counts.waiting + counts.active + counts.delayed === 0) break;
  }
  await conveyor.close({ timeoutMs: 5_000 });
  kv.close();
  console.log(`ran ${ran} last ${lastAt}`);
  process.exit(0);
}

function command(runtime: string, args: string[]): [string, string[]] {
  if (runtime === "deno") return [join(root, "node_modules/.bin/deno"), ["run", "-A", "--unstable-kv", self, ...args]];
  return [process.execPath, ["--import", "tsx", self, ...args]];
}

async function runOnce(runtime: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-bench-kv-"));
  const path = join(dir, "kv.sqlite3");
  try {
    // The jobs go in first, from this process's runtime: the file format is the same.
    const [cmd, args] = command(runtime, ["--fill", path]);
    const filled = spawnSync(cmd, args, { encoding: "utf8", cwd: root });
    if (filled.status !== 0) throw new Error(`filling failed:\n${filled.stdout}\n${filled.stderr}`);
    const children = Array.from({ length: WORKERS }, () => {
      const [c, a] = command(runtime, ["--worker", path]);
      return spawn(c, a, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    });
    const outputs = children.map((child) => {
      let out = "";
      child.stdout!.on("data", (chunk) => out += chunk);
      return { child, text: () => out, exited: new Promise<number | null>((resolve) => child.once("exit", resolve)) };
    });
    // Timed from the moment every worker is ready (loading a runtime is not the store's cost).
    // Until the last job's handler ran (wall clock: one machine), not until the processes exit.
    while (!outputs.every((o) => o.text().includes("ready"))) await new Promise((resolve) => setTimeout(resolve, 5));
    const start = Date.now();
    const codes = await Promise.all(outputs.map((o) => o.exited));
    const ms = Math.max(...outputs.map((o) => Number(/last (\d+)/.exec(o.text())?.[1] ?? 0))) - start;
    const ran = outputs.reduce((sum, o) => sum + Number(/ran (\d+)/.exec(o.text())?.[1] ?? 0), 0);
    if (codes.some((code) => code !== 0) || ran < JOBS) throw new Error(`${runtime}: ran ${ran} of ${JOBS} (exit codes ${codes.join(", ")})`);
    return JOBS / (ms / 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fill(path: string): Promise<void> {
  const kv = await openDenoKv(path);
  const conveyor = createConveyor({ store: new DenoKvStore({ kv, prefix: "bench" }) });
  const queue = conveyor.queue("bench");
  for (let i = 0; i < JOBS; i += 500) {
    await queue.addBulk(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({ job: noop, payload: { i: i + k } })));
  }
  await conveyor.close();
  kv.close();
  process.exit(0);
}

async function main(): Promise<void> {
  console.log(`Conveyor DenoKvStore: ${JOBS.toLocaleString("en")} jobs, ${WORKERS} worker processes × concurrency ${CONCURRENCY} on one local SQLite file, median of ${ROUNDS}\n`);
  console.log("runtime  jobs/s");
  for (const runtime of RUNTIMES) {
    const samples: number[] = [];
    for (let round = 0; round < ROUNDS; round++) samples.push(await runOnce(runtime));
    samples.sort((a, b) => a - b);
    console.log(`${runtime.padEnd(8)} ${Math.round(samples[samples.length >> 1]!).toLocaleString("en")}`);
  }
}

const at = (flag: string) => process.argv.indexOf(flag);
if (at("--worker") >= 0) await workerMain(process.argv[at("--worker") + 1]!);
else if (at("--fill") >= 0) await fill(process.argv[at("--fill") + 1]!);
else await main();
