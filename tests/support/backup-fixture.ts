// A store filled with jobs in every state (attempts, dedup keys, priorities, a paused queue), a
// schedule record and audit entries, built through the store contract with exact times; and
// what a restored copy must show of it.
import type { Job, QueueStore } from "../../mod.ts";
import { JOB_STATES } from "../../mod.ts";
import { newJob } from "./store-conformance.ts";

export const T0 = 1_700_000_000_000;
const LEASE_MS = 60_000;

async function claimOne(store: QueueStore, queue: string, now: number): Promise<Job> {
  const { jobs } = await store.claim(queue, { workerId: "w1", limit: 1, leaseMs: LEASE_MS, now });
  if (jobs.length !== 1) throw new Error(`fixture: expected one claim at ${now}, got ${jobs.length}`);
  return jobs[0]!;
}

const boom = { name: "Error", message: "boom" };

export async function fillStore(store: QueueStore): Promise<void> {
  const q = "emails";
  const add = async (n: number, overrides: Parameters<typeof newJob>[0] = {}, now = T0) =>
    (await store.enqueue(q, { jobs: [newJob({ payload: { n }, ...overrides })], now }))[0]!.job;
  const fail = (job: Job, retryAt: number | null, now: number) =>
    store.finish(q, { outcomes: [{ id: job.id, token: job.lease!.token, kind: "failed", error: boom, retryAt }], now });

  // Completed on its second attempt, with progress, a log line and a step.
  await add(1, { maxAttempts: 3, dedupKey: "c-1", priority: 100 });
  let job = await claimOne(store, q, T0 + 1_000);
  await fail(job, T0 + 1_000, T0 + 2_000);
  job = await claimOne(store, q, T0 + 3_000);
  await store.setProgress(q, { id: job.id, token: job.lease!.token, progress: { pct: 100 }, now: T0 + 3_100 });
  await store.appendLog(q, { id: job.id, token: job.lease!.token, line: "sent" });
  await store.saveStep(q, { id: job.id, token: job.lease!.token, step: "render", value: { html: "<p>" }, now: T0 + 3_200 });
  await store.finish(q, { outcomes: [{ id: job.id, token: job.lease!.token, kind: "completed", result: { ok: true } }], now: T0 + 4_000 });
  // Completed at once, custom id.
  await add(2, { id: "welcome-ada", createdBy: "ada" });
  job = await claimOne(store, q, T0 + 5_000);
  await store.finish(q, { outcomes: [{ id: job.id, token: job.lease!.token, kind: "completed", result: 42 }], now: T0 + 6_000 });
  // Failed for good, without the dead-letter store.
  await add(3, { deadLetter: false });
  await fail(await claimOne(store, q, T0 + 7_000), null, T0 + 8_000);
  // Dead after two attempts.
  await add(4, { maxAttempts: 2, priority: 0 });
  await fail(await claimOne(store, q, T0 + 9_000), T0 + 9_000, T0 + 9_500);
  await fail(await claimOne(store, q, T0 + 10_000), null, T0 + 11_000);
  // Waiting for its retry, ten minutes out, with one attempt spent.
  await add(5, { maxAttempts: 5, dedupKey: "c-1" }); // the key job 1 held: free again once it completed
  await fail(await claimOne(store, q, T0 + 12_000), T0 + 600_000, T0 + 13_000);
  // Active (its worker gone): restored waiting.
  await add(6, { priority: 300 });
  await claimOne(store, q, T0 + 14_000);
  // Cancelled by hand.
  const cancelled = await add(7);
  await store.cancel(q, { id: cancelled.id, now: T0 + 15_000, by: "ada" });
  // Waiting, three priorities and a dedup key; delayed, custom id.
  await add(8, { priority: 300 });
  await add(9, { priority: 0, dedupKey: "w-1" });
  await add(10);
  await add(11, { id: "report-1", runAt: T0 + 3_600_000, dedupKey: "d-1", priority: 100 });

  await store.enqueue("reports", { jobs: [newJob({ payload: { n: 12 } })], now: T0 });
  await store.setPaused("reports", { paused: true, now: T0 });
  await store.putRecord("schedules", "nightly", { id: "nightly", queue: "reports", cron: "0 3 * * *" });
  await store.putRecord("schedule-state", "nightly", { lastTick: T0, runs: 3 });
  const entry = { actor: "ada", actorType: "user", ip: null, requestId: null, queue: q, jobId: null, scheduleId: null, outcome: "ok", details: null } as const;
  await store.appendAudit([{ ...entry, at: T0, action: "job.enqueue" }, { ...entry, at: T0 + 15_000, action: "job.cancel" }]);
}

/** What must survive a trip, per job (keyed by payload.n): store-made ids may change, custom ones may not. */
function essentials(job: Job) {
  const pending = job.state === "waiting" || job.state === "delayed";
  return {
    n: (job.payload as { n: number }).n,
    id: /^\d+$/.test(job.id) ? "(store id)" : job.id,
    state: job.state,
    priority: job.priority,
    runAt: pending ? job.runAt : "(ran)",
    dedupKey: job.dedupKey,
    attemptsMade: job.attemptsMade,
    maxAttempts: job.maxAttempts,
    result: job.result,
    lastError: job.lastError?.message ?? null,
    dead: job.dead?.reason ?? null,
    progress: job.progress,
    logs: job.logs,
    steps: job.steps,
    createdBy: job.createdBy,
    createdAt: job.createdAt,
    cancelledBy: job.changedBy?.by ?? null,
  };
}

export async function snapshot(store: QueueStore) {
  const queues: Record<string, unknown> = {};
  for (const queue of ["emails", "reports"]) {
    const jobs: Job[] = [];
    for (const state of JOB_STATES) jobs.push(...await store.list(queue, state, { offset: 0, limit: 1_000 }));
    const { paused: _paused, ...counts } = await store.counts(queue);
    queues[queue] = {
      counts,
      paused: await store.isPaused(queue),
      jobs: jobs.map(essentials).sort((a, b) => a.n - b.n),
      waitingOrder: (await store.list(queue, "waiting", { offset: 0, limit: 1_000 })).map((j) => (j.payload as { n: number }).n),
    };
  }
  return {
    queues,
    records: [await store.listRecords("schedules"), await store.listRecords("schedule-state")],
    audit: (await store.listAudit({ limit: 100 })).map(({ cursor: _c, ...entry }) => entry),
  };
}
