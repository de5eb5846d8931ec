// A child process of the conformance kit's process cases. It opens the store through the module
// the store's author gave (CONVEYOR_STORE_MODULE exporting openStore(env)), then either enqueues
// JOBS jobs and waits to be killed (ROLE=producer), or works the queue (ROLE=worker): every run
// is written as a record `kit-runs` / `<job>:<worker>:<attempt>` with its start and end, so the
// test sees each run, and any two that overlapped.
import process from "node:process";
import { pathToFileURL } from "node:url";
import { createConveyor, type QueueStore } from "../mod.ts";
import { KEEP, KIT_QUEUE, kitJob } from "./process-job.ts";

const env = process.env;
const module = env.CONVEYOR_STORE_MODULE!;
const { openStore } = await import(/^[a-z]+:/.test(module) ? module : pathToFileURL(module).href) as {
  openStore(env: Record<string, string | undefined>): Promise<QueueStore>;
};
const store = await openStore(env);
const conveyor = createConveyor({ store });
const queue = conveyor.queue(KIT_QUEUE);

if (env.ROLE === "producer") {
  await queue.addBulk(Array.from({ length: Number(env.JOBS) }, (_, n) => ({ job: kitJob, payload: { n }, options: KEEP })));
  console.log("enqueued");
  setInterval(() => {}, 1_000);
} else {
  const workerId = env.WORKER_ID!;
  const workMs = Number(env.WORK_MS ?? "10");
  const worker = conveyor.worker(queue, {
    id: workerId,
    concurrency: Number(env.CONCURRENCY ?? "4"),
    leaseMs: Number(env.LEASE_MS ?? "2000"),
    stallCheckMs: 100,
    errorRetryMs: 50,
  }).handle(kitJob, async (_payload, ctx) => {
    const start = Date.now();
    console.log(`started ${ctx.id}`);
    await new Promise((resolve) => setTimeout(resolve, workMs));
    await store.putRecord("kit-runs", `${ctx.id}:${workerId}:${ctx.attempt}`, { start, end: Date.now() });
  });
  await worker.ready();
  console.log("ready");
}
