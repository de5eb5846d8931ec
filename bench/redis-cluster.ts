// Conveyor's Redis store on a 3-master Redis Cluster against one redis-server: three queues, each
// with its own worker (concurrency 100), JOBS jobs each, added beforehand; timed from the workers'
// start to the last completion. On one node the three queues share its one thread; on the
// cluster they land on three masters (one slot per queue), so Redis work runs in parallel.
//
//   npm run bench:redis-cluster     (JOBS=20000 per queue, ROUNDS=3 by default)
//
// Each setup runs in a fresh child process, alternating, and the median of ROUNDS is printed.
// On this 2-core machine the three masters and the bench process share two cores, so the gain
// shown is far below what three machines would give.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import IORedis from "ioredis";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { startRedis } from "../tests/support/redis-server.ts";
import { startRedisCluster } from "../tests/support/redis-cluster.ts";

const JOBS = Number(process.env.JOBS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const QUEUES = ["alpha", "bravo", "charlie"];
type Setup = "single" | "cluster";
const noop = defineJob("noop", v.object({ i: v.number() }), { removeOnComplete: false });

async function child(setup: Setup, target: string): Promise<number> {
  const connection = setup === "single" ? target : new IORedis.Cluster(JSON.parse(target) as { host: string; port: number }[]);
  const conveyor = createConveyor({ store: new RedisStore({ connection: connection as never, prefix: "bench" }) });
  for (const name of QUEUES) {
    const queue = conveyor.queue(name);
    for (let i = 0; i < JOBS; i += 1_000) {
      await queue.addBulk(Array.from({ length: Math.min(1_000, JOBS - i) }, (_, k) => ({ job: noop, payload: { i: i + k } })));
    }
  }
  let done = 0;
  const start = performance.now();
  for (const name of QUEUES) conveyor.worker(name, { concurrency: 100 }).handle(noop, () => void done++);
  while (done < JOBS * QUEUES.length) await new Promise((resolve) => setTimeout(resolve, 2));
  const ms = performance.now() - start;
  await conveyor.close({ timeoutMs: 1_000 });
  if (typeof connection !== "string") connection.disconnect();
  return (JOBS * QUEUES.length) / (ms / 1000);
}

async function main(): Promise<void> {
  const single = await startRedis();
  const cluster = await startRedisCluster();
  const samples: Record<Setup, number[]> = { single: [], cluster: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const setup of (round % 2 === 0 ? ["single", "cluster"] : ["cluster", "single"]) as Setup[]) {
        const target = setup === "single" ? single.url : JSON.stringify(cluster.nodes);
        const result = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", setup, target], { encoding: "utf8", timeout: 600_000 });
        if (result.status !== 0) throw new Error(`${setup} failed:\n${result.stdout}\n${result.stderr}`);
        samples[setup].push(Number(result.stdout.trim().split("\n").pop()));
        await flush(single.url, cluster.nodes);
      }
    }
  } finally {
    await cluster.stop();
    await single.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const [s, c] = [median(samples.single), median(samples.cluster)];
  console.log(`Conveyor on Redis: 3 queues × ${JOBS.toLocaleString("en")} jobs, a worker per queue at concurrency 100, median of ${ROUNDS}, Node ${process.version}\n`);
  console.log("setup                      jobs/s   ratio");
  console.log(`one redis-server           ${Math.round(s).toLocaleString("en").padEnd(8)} 1.00`);
  console.log(`Redis Cluster, 3 masters   ${Math.round(c).toLocaleString("en").padEnd(8)} ${(c / s).toFixed(2)}`);
}

async function flush(url: string, nodes: readonly { host: string; port: number }[]): Promise<void> {
  for (const target of [url, ...nodes.map((n) => `redis://${n.host}:${n.port}`)]) {
    const client = new IORedis(target);
    await client.flushall();
    client.disconnect();
  }
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) {
  console.log(await child(process.argv[childIndex + 1] as Setup, process.argv[childIndex + 2]!));
  process.exit(0);
} else {
  await main();
}
