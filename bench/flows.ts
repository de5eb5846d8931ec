// Workflows: Conveyor's Redis store against BullMQ on one local redis-server (at its defaults,
// RDB snapshots off so no fork lands inside a measurement).
//
//   npm run bench:flows     (FLOWS=1000 CHAINS=1000 CONCURRENCY=10,100 ROUNDS=3 by default; PHASES=flow,chain for some)
//
// Phases, each with no-op handlers and one worker at the same concurrency for both systems (each
// of CONCURRENCY in turn):
//   flow   flows of 1 parent + 10 children in one queue, added (10 adds in flight) while the
//          worker runs, timed from the first add to the last parent completing: Conveyor's
//          conveyor.flow(), BullMQ's FlowProducer.add().
//   plain  CHAINS × 5 plain jobs, added beforehand (addBulk), timed from the worker's start to
//          the last completion: what one job costs.
//   chain  CHAINS chains of 5 steps, added beforehand, timed the same way: Conveyor's
//          queue.chain(…).then(…) (each next step enqueued by the script that completes the one
//          before), BullMQ's equivalent (the handler adds the next job before it returns).
// A step's overhead is its cost less a plain job's. Each (system, phase) runs in a fresh child
// process, alternating which system goes first, with FLUSHALL between runs; the median of ROUNDS
// runs is printed, with the CPU each side spent per flow or per job (redis-server's main thread +
// the bench process, which is producer and worker): less swayed than wall time by other load on
// the machine. PROFILE=1 prints Redis's INFO commandstats for each run.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { FlowProducer, Queue as BullQueue, Worker as BullWorker } from "bullmq";
import IORedis from "ioredis";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { startRedis } from "../tests/support/redis-server.ts";

const FLOWS = Number(process.env.FLOWS ?? 1_000);
const CHAINS = Number(process.env.CHAINS ?? 1_000);
const CONCURRENCIES = (process.env.CONCURRENCY ?? "10,100").split(",").map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CHILDREN = 10;
const STEPS = 5;
const IN_FLIGHT = 10;
type System = "conveyor" | "bullmq";
type Phase = "flow" | "plain" | "chain";
const ALL_PHASES: Phase[] = ["flow", "plain", "chain"];
const PHASES = process.env.PHASES ? ALL_PHASES.filter((p) => process.env.PHASES!.split(",").includes(p)) : ALL_PHASES;
interface Sample {
  /** Flows per second (flow), or microseconds per job (plain, chain). */
  value: number;
  /** CPU time per flow or per job, in microseconds: redis-server's main thread, and the bench process's. */
  redisUs: number;
  clientUs: number;
  peakRssMb: number;
}

// Completed jobs are kept on both sides (BullMQ's default), so no phase pays for retention.
const keep = { removeOnComplete: false } as const;
const parentJob = defineJob("parent", v.object({ i: v.number() }), keep);
const childJob = defineJob("child", v.object({ i: v.number(), k: v.number() }), keep);
const plainJob = defineJob("plain", v.object({ i: v.number() }), keep);
const stepJob = defineJob("step", v.object({ s: v.number() }), keep);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A system under test, reduced to what the phases need. `onEnd` is called once per flow or chain, by its last job's handler. */
interface Harness {
  addFlow(i: number): Promise<void>;
  addPlain(from: number, count: number): Promise<void>;
  addChain(i: number): Promise<void>;
  work(concurrency: number, onEnd: () => void): Promise<void>;
  completed(): Promise<number>;
  close(): Promise<void>;
}

async function conveyorHarness(url: string): Promise<Harness> {
  // The producer and the worker each have their own store (and so connection), as BullMQ's
  // Queue, FlowProducer and Worker below have theirs: neither waits behind the other's calls.
  const producer = createConveyor({ store: new RedisStore({ connection: url, prefix: "bench" }) });
  const consumer = createConveyor({ store: new RedisStore({ connection: url, prefix: "bench" }) });
  const queue = producer.queue("bench");
  return {
    addFlow: async (i) =>
      void await producer.flow({
        queue, job: parentJob, payload: { i },
        children: Array.from({ length: CHILDREN }, (_, k) => ({ queue, job: childJob, payload: { i, k } })),
      }),
    addPlain: async (from, count) => void await queue.addBulk(Array.from({ length: count }, (_, k) => ({ job: plainJob, payload: { i: from + k } }))),
    addChain: async () => {
      let chain = queue.chain(stepJob, { s: 0 });
      for (let s = 1; s < STEPS; s++) chain = chain.then(stepJob);
      await chain.add();
    },
    work: async (concurrency, onEnd) => {
      const worker = consumer.worker("bench", { concurrency })
        .handle(parentJob, () => onEnd())
        .handle(childJob, () => {})
        .handle(plainJob, () => {})
        .handle(stepJob, ({ s }) => {
          if (s === STEPS - 1) onEnd();
          return { s: s + 1 };
        });
      await worker.ready();
    },
    completed: async () => (await queue.counts()).completed,
    close: async () => {
      await consumer.close({ timeoutMs: 1_000 });
      await producer.close({ timeoutMs: 1_000 });
    },
  };
}

async function bullmqHarness(url: string): Promise<Harness> {
  const connection = new IORedis(url, { maxRetriesPerRequest: null });
  const queue = new BullQueue("bench", { connection });
  const flows = new FlowProducer({ connection });
  let worker: BullWorker | undefined;
  return {
    addFlow: async (i) =>
      void await flows.add({
        name: "parent", queueName: "bench", data: { i },
        children: Array.from({ length: CHILDREN }, (_, k) => ({ name: "child", queueName: "bench", data: { i, k } })),
      }),
    addPlain: async (from, count) => void await queue.addBulk(Array.from({ length: count }, (_, k) => ({ name: "plain", data: { i: from + k } }))),
    addChain: async () => void await queue.add("step", { s: 0 }),
    work: async (concurrency, onEnd) => {
      worker = new BullWorker("bench", async (job) => {
        if (job.name === "parent") onEnd();
        if (job.name !== "step") return;
        const s = job.data.s as number;
        if (s < STEPS - 1) await queue.add("step", { s: s + 1 });
        else onEnd();
        return { s: s + 1 };
      }, { connection: new IORedis(url, { maxRetriesPerRequest: null }), concurrency });
      await worker.waitUntilReady();
    },
    completed: async () => (await queue.getJobCounts("completed")).completed ?? 0,
    close: async () => {
      await worker?.close();
      await flows.close();
      await queue.close();
      connection.disconnect();
    },
  };
}

/** CPU time so far, in microseconds: redis-server's main thread and this process. Less swayed than wall time by other load on the machine. */
async function cpuUs(admin: IORedis): Promise<{ redis: number; client: number }> {
  const info = String(await admin.info("cpu"));
  const seconds = (name: string) => Number(info.match(new RegExp(`^${name}:([\\d.]+)`, "m"))?.[1] ?? NaN);
  const { user, system } = process.cpuUsage();
  return { redis: (seconds("used_cpu_user_main_thread") + seconds("used_cpu_sys_main_thread")) * 1e6, client: user + system };
}

/** With PROFILE=1, Redis's per-command figures since the phase began go to stderr. */
async function profile(admin: IORedis, label: string): Promise<void> {
  if (process.env.PROFILE === "1") process.stderr.write(`${label}\n${String(await admin.info("commandstats")).replace(/^# .*\n/, "")}\n`);
}

async function runPhase(system: System, phase: Phase, concurrency: number, url: string): Promise<Omit<Sample, "peakRssMb">> {
  const h = system === "conveyor" ? await conveyorHarness(url) : await bullmqHarness(url);
  const admin = new IORedis(url);
  try {
    let ended = 0;
    const expected = phase === "flow" ? FLOWS : phase === "chain" ? CHAINS : 0;
    const jobs = phase === "flow" ? FLOWS * (CHILDREN + 1) : CHAINS * STEPS;
    if (phase === "plain") {
      for (let i = 0; i < jobs; i += 1_000) await h.addPlain(i, Math.min(1_000, jobs - i));
    } else if (phase === "chain") {
      for (let i = 0; i < CHAINS; i += 100) await Promise.all(Array.from({ length: Math.min(100, CHAINS - i) }, (_, k) => h.addChain(i + k)));
    } else {
      await h.work(concurrency, () => void ended++);
    }
    await admin.config("RESETSTAT");
    const cpu = await cpuUs(admin);
    const start = performance.now();
    if (phase === "flow") {
      let next = 0;
      await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        while (next < FLOWS) await h.addFlow(next++);
      }));
    } else {
      await h.work(concurrency, () => void ended++);
    }
    while (ended < expected) await sleep(2);
    while ((await h.completed()) < jobs) await sleep(2);
    const elapsedMs = performance.now() - start;
    const used = await cpuUs(admin);
    await profile(admin, `${system} ${phase} c${concurrency}`);
    const per = phase === "flow" ? FLOWS : jobs;
    return {
      value: phase === "flow" ? FLOWS / (elapsedMs / 1000) : (elapsedMs * 1000) / jobs,
      redisUs: (used.redis - cpu.redis) / per,
      clientUs: (used.client - cpu.client) / per,
    };
  } finally {
    admin.disconnect();
    await h.close();
  }
}

function spawnPhase(system: System, phase: Phase, concurrency: number, url: string): Sample {
  const self = fileURLToPath(import.meta.url);
  const result = spawnSync(process.execPath, ["--import", "tsx", self, "--child", system, phase, String(concurrency), url], {
    encoding: "utf8",
    env: process.env,
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`${system} ${phase} c${concurrency} failed:\n${result.stdout}\n${result.stderr}`);
  if (process.env.PROFILE === "1") process.stderr.write(result.stderr);
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
  console.log(
    `Conveyor (Redis store) vs BullMQ ${await bullmqVersion()} — workflows: ${FLOWS.toLocaleString("en")} flows of 1 + ${CHILDREN}, ` +
      `${CHAINS.toLocaleString("en")} chains of ${STEPS} (plain: ${(CHAINS * STEPS).toLocaleString("en")} jobs), ` +
      `median of ${ROUNDS} rounds, Redis ${version} (hz ${hz}), Node ${process.version}\n`,
  );
  const rows: string[][] = [["figure", "conveyor", "bullmq", "ratio", "CPU µs redis + client, conveyor / bullmq", "peak RSS conveyor / bullmq"]];
  const goals: string[] = [];
  for (const concurrency of CONCURRENCIES) {
    const results: Partial<Record<Phase, Record<System, Sample>>> = {};
    for (const phase of PHASES) {
      const samples: Record<System, Sample[]> = { conveyor: [], bullmq: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const system of (round % 2 === 0 ? ["conveyor", "bullmq"] : ["bullmq", "conveyor"]) as System[]) {
          await admin.flushall();
          samples[system].push(spawnPhase(system, phase, concurrency, redis.url));
        }
      }
      const pick = (s: System): Sample => ({
        value: median(samples[s].map((x) => x.value)),
        redisUs: median(samples[s].map((x) => x.redisUs)),
        clientUs: median(samples[s].map((x) => x.clientUs)),
        peakRssMb: median(samples[s].map((x) => x.peakRssMb)),
      });
      results[phase] = { conveyor: pick("conveyor"), bullmq: pick("bullmq") };
    }
    addRows(rows, goals, concurrency, results);
  }
  printTable(rows);
  console.log("");
  for (const goal of goals) console.log(goal);
  admin.disconnect();
  await redis.stop();
}

function addRows(rows: string[][], goals: string[], concurrency: number, results: Partial<Record<Phase, Record<System, Sample>>>): void {
  const us = (n: number) => `${n.toFixed(1)} µs`;
  const cpu = (x: Sample) => `${Math.round(x.redisUs)} + ${Math.round(x.clientUs)}`;
  const side = (r: Record<System, Sample>) => [`${cpu(r.conveyor)} / ${cpu(r.bullmq)}`, `${r.conveyor.peakRssMb} / ${r.bullmq.peakRssMb} MB`];
  const lower = (c: number, b: number) => `${(c / b).toFixed(2)} (lower is better)`;
  const at = `c${concurrency}`;
  const { flow, plain, chain } = results;
  if (flow) {
    const ratio = flow.conveyor.value / flow.bullmq.value;
    rows.push([`${at} flow 1 + ${CHILDREN}, add + process (flows/s)`, Math.round(flow.conveyor.value).toLocaleString("en"),
      Math.round(flow.bullmq.value).toLocaleString("en"), ratio.toFixed(2), ...side(flow)]);
    goals.push(`${at} goal ≥ 2× BullMQ flows/s: ${ratio >= 2 ? "met" : "missed"} (${ratio.toFixed(2)}×)`);
  }
  if (plain) rows.push([`${at} plain job, process (per job)`, us(plain.conveyor.value), us(plain.bullmq.value), lower(plain.conveyor.value, plain.bullmq.value), ...side(plain)]);
  if (chain) {
    rows.push([`${at} ${STEPS}-step chain, process (per step)`, us(chain.conveyor.value), us(chain.bullmq.value),
      lower(chain.conveyor.value, chain.bullmq.value), ...side(chain)]);
  }
  if (plain && chain) {
    const overhead = (s: System) => chain[s].value - plain[s].value;
    const cpuOverhead = (s: System) =>
      `${Math.round(chain[s].redisUs - plain[s].redisUs)} + ${Math.round(chain[s].clientUs - plain[s].clientUs)}`;
    rows.push([`${at} chain step overhead (step − plain job)`, us(overhead("conveyor")), us(overhead("bullmq")),
      overhead("bullmq") > 0 ? lower(overhead("conveyor"), overhead("bullmq")) : "—", `${cpuOverhead("conveyor")} / ${cpuOverhead("bullmq")}`, ""]);
    const own = overhead("conveyor");
    goals.push(`${at} goal chain step overhead ≤ a plain job: ${own <= plain.conveyor.value ? "met" : "missed"} (${us(own)} vs ${us(plain.conveyor.value)})`);
  }
}

async function bullmqVersion(): Promise<string> {
  const { createRequire } = await import("node:module");
  return createRequire(import.meta.url)("bullmq/package.json").version;
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) {
  const [system, phase, concurrency, url] = process.argv.slice(childIndex + 1) as [System, Phase, string, string];
  const sample = await runPhase(system, phase, Number(concurrency), url);
  console.log(JSON.stringify({ ...sample, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));
  process.exit(0);
} else {
  await main();
}
