// Cleanup on every store (through the store contract only): finished jobs by age and count, per
// state and per queue, dead letters, the audit log and finished schedules; the one call that
// schedules it daily, run by a worker on fake time; and the job enqueued over HTTP.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { createApp } from "../http.ts";
import { createConveyor, FakeClock, type QueueStore } from "../mod.ts";
import { cleanup, cleanupHandler, cleanupJob, scheduleCleanup } from "../maintenance.ts";
import { backends } from "./support/backends.ts";
import { newJob } from "./support/store-conformance.ts";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Ends `n` jobs of `queue` as `kind`, one per hour from `from`. */
async function finished(store: QueueStore, queue: string, kind: "completed" | "failed" | "dead", n: number, from: number) {
  for (let i = 0; i < n; i++) {
    const at = from + i * HOUR;
    await store.enqueue(queue, { jobs: [newJob({ payload: { i }, deadLetter: kind === "dead" })], now: at });
    const { jobs: [job] } = await store.claim(queue, { workerId: "w", limit: 1, leaseMs: 60_000, now: at });
    const outcome = kind === "completed"
      ? { id: job!.id, token: job!.lease!.token, kind: "completed" as const, result: i }
      : { id: job!.id, token: job!.lease!.token, kind: "failed" as const, error: { name: "Error", message: "x" }, retryAt: null };
    await store.finish(queue, { outcomes: [outcome], now: at });
  }
}

for (const backend of backends) {
  describe(`cleanup on ${backend.name}`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test("by age and by count, per state and per queue; pending jobs untouched", async () => {
      const store = await backend.create();
      await finished(store, "emails", "completed", 10, T0); // T0 … T0+9h
      await finished(store, "emails", "dead", 4, T0);
      await finished(store, "emails", "failed", 3, T0);
      await finished(store, "images", "completed", 5, T0);
      await store.enqueue("emails", { jobs: [newJob({ runAt: T0 }), newJob({ runAt: T0 + DAY * 365 })], now: T0 });
      const clock = new FakeClock({ startMs: T0 + 10 * HOUR });
      const result = await cleanup(store, clock, {
        queues: ["emails", "images"],
        completed: { olderThanMs: 5 * HOUR + 1, keep: 3 }, // age leaves 5 (T0+5h … 9h), count leaves 3
        dead: { keep: 1 },
        failed: null,
        perQueue: { images: { completed: { keep: 4 } } },
      });
      assert.deepEqual(result.queues, { emails: { completed: 7, dead: 3 }, images: { completed: 1 } });
      assert.equal(result.jobs, 11);
      const emails = await store.counts("emails");
      assert.deepEqual([emails.completed, emails.dead, emails.failed, emails.waiting, emails.delayed], [3, 1, 3, 1, 1]);
      // The newest stay.
      const kept = await store.list("emails", "completed", { offset: 0, limit: 10 });
      assert.deepEqual(kept.map((j) => j.result), [9, 8, 7]);
      assert.equal((await store.counts("images")).completed, 4);
    });

    test("the audit log by age and count, and schedules that will never fire again", async () => {
      const store = await backend.create();
      const entry = { actor: "ada", actorType: "user", ip: null, requestId: null, action: "job.cancel", queue: null, jobId: null, scheduleId: null, outcome: "ok", details: null } as const;
      await store.appendAudit([0, 1, 2, 3, 4].map((d) => ({ ...entry, at: T0 + d * DAY })));
      await store.putRecord("schedules", "ended", { id: "ended", queue: "reports", endAt: T0 + DAY, maxRuns: null, updatedAt: T0 });
      await store.putRecord("schedule-state", "ended", { runs: 1, lastRunAt: T0 + DAY });
      await store.putRecord("schedules", "used-up", { id: "used-up", queue: "reports", endAt: null, maxRuns: 2, updatedAt: T0 });
      await store.putRecord("schedule-state", "used-up", { runs: 2, lastRunAt: T0 + 3 * DAY });
      await store.putRecord("schedules", "live", { id: "live", queue: "reports", endAt: null, maxRuns: 5, updatedAt: T0 });
      await store.putRecord("schedule-state", "live", { runs: 2, lastRunAt: T0 });
      const clock = new FakeClock({ startMs: T0 + 9 * DAY });
      const result = await cleanup(store, clock, { audit: { olderThanMs: 6 * DAY, keep: 1 }, finishedSchedules: { olderThanMs: 7 * DAY } });
      assert.equal(result.audit, 4);
      assert.equal((await store.listAudit({ limit: 10 })).length, 1);
      assert.deepEqual(result.schedules, ["ended"]); // used-up ended 6 days ago: not yet
      assert.deepEqual((await store.listRecords("schedules")).map((r) => r.key), ["live", "used-up"]);
      assert.equal(await store.getRecord("schedule-state", "ended"), null);
    });
  });
}

test("scheduleCleanup: one call, a daily run at 03:00 by a worker, whose result counts what went", async () => {
  const clock = new FakeClock({ startMs: T0 });
  const conveyor = createConveyor({ clock });
  try {
    await finished(conveyor.store, "emails", "completed", 3, T0 - 30 * DAY);
    conveyor.queue("emails");
    const scheduler = conveyor.scheduler({ autostart: false });
    const { schedule } = await scheduleCleanup(conveyor, scheduler, { rules: { completed: { olderThanMs: DAY } } });
    assert.equal(schedule.cron, "0 3 * * *");
    await scheduler.start();
    await clock.advance(3 * HOUR);
    const maintenance = conveyor.queue("conveyor-maintenance");
    await conveyor.drain();
    const [run] = await maintenance.list("completed");
    assert.equal(run?.name, cleanupJob.name);
    assert.deepEqual(run?.result, { queues: { emails: { completed: 3 }, "conveyor-maintenance": {} }, jobs: 3, audit: 0, schedules: [] });
    assert.equal((await conveyor.queue("emails").counts()).completed, 0);
    scheduler.close();
  } finally {
    await conveyor.close();
  }
});

test("cleanupJob over HTTP: enqueued by name with its rules, a bad rule refused with 400", async () => {
  const secret = "a-test-secret-that-is-long-enough-for-hs256";
  const clock = new FakeClock({ startMs: T0 });
  const conveyor = createConveyor({ clock });
  try {
    await finished(conveyor.store, "emails", "completed", 2, T0 - 30 * DAY);
    conveyor.worker("conveyor-maintenance").handle(cleanupJob, cleanupHandler(conveyor));
    const app = createApp(conveyor, { auth: { secret } });
    const token = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("ada").setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
    const post = (payload: unknown) =>
      app.request("/queues/conveyor-maintenance/jobs", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "conveyor.cleanup", payload }),
      });
    assert.equal((await post({ completed: { keep: "ten" } })).status, 400);
    const added = await post({ queues: ["emails"], completed: { olderThanMs: DAY } });
    assert.equal(added.status, 201);
    const { job } = await added.json() as { job: { id: string } };
    await conveyor.drain();
    const run = await conveyor.queue("conveyor-maintenance").get(job.id);
    assert.deepEqual(run?.result, { queues: { emails: { completed: 2 } }, jobs: 2, audit: 0, schedules: [] });
  } finally {
    await conveyor.close();
  }
});
