// The contract every QueueStore keeps, run against each backend with a fresh store per test.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ConveyorEventData, ErrorInfo, NewJob, QueueStore } from "../../mod.ts";
import { DEFAULT_RETENTION } from "../../mod.ts";
import type { Backend } from "./backends.ts";
import { waitUntil } from "./harness.ts";

const T0 = 1_700_000_000_000;
const Q = "conformance";
const LEASE = { workerId: "w1", leaseMs: 1_000 };

export function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: null,
    name: "job",
    payload: { n: 1 },
    priority: 200,
    createdAt: T0,
    runAt: T0,
    maxAttempts: 1,
    backoff: { type: "fixed", delayMs: 0 },
    timeoutMs: null,
    dedupKey: null,
    removeOnComplete: { count: null, ageMs: null },
    removeOnFail: { count: null, ageMs: null },
    deadLetter: true,
    createdBy: null,
    ...overrides,
  };
}

async function withStore(backend: Backend, body: (store: QueueStore, events: ConveyorEventData[]) => Promise<void>) {
  const store = await backend.create();
  const events: ConveyorEventData[] = [];
  const subscription = store.subscribe(Q, (event) => events.push(event));
  await subscription.ready;
  try {
    await body(store, events);
  } finally {
    subscription.close();
    await store.close();
  }
}

/** Events may arrive after the call that caused them (pub/sub): wait for them, briefly. */
const eventually = (check: () => boolean) => waitUntil(check, 3_000, "the expected events");

const count = (events: ConveyorEventData[], type: string) => events.filter((e) => e.type === type).length;

async function complete(store: QueueStore, id: string, token: string, result: unknown, now: number) {
  const { finished } = await store.finish(Q, { outcomes: [{ id, token, kind: "completed", result }], now });
  return finished[0] ? await store.get(Q, id) : null;
}

async function fail(
  store: QueueStore,
  id: string,
  token: string,
  request: { error: ErrorInfo; now: number; retryAt: number | null },
) {
  const { finished } = await store.finish(Q, {
    outcomes: [{ id, token, kind: "failed", error: request.error, retryAt: request.retryAt }],
    now: request.now,
  });
  return finished[0] ? await store.get(Q, id) : null;
}

async function claimOne(store: QueueStore, now = T0) {
  const { jobs } = await store.claim(Q, { ...LEASE, limit: 1, now });
  assert.equal(jobs.length, 1, "expected one job to claim");
  return jobs[0]!;
}

export function storeConformance(backend: Backend): void {
  const it = (name: string, body: (store: QueueStore, events: ConveyorEventData[]) => Promise<void>) =>
    test(name, () => withStore(backend, body));

  describe(`QueueStore conformance: ${backend.name}`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());
    it("declares its capabilities", async (store) => {
      for (const key of ["sharedAcrossProcesses", "durable", "consistent"] as const) {
        assert.equal(typeof store.capabilities[key], "boolean", key);
      }
    });

    it("enqueues, assigns distinct ids and reports counts", async (store, events) => {
      const results = await store.enqueue(Q, [newJob(), newJob(), newJob({ runAt: T0 + 500 })], T0);
      assert.equal(new Set(results.map((r) => r.job.id)).size, 3);
      assert.deepEqual(results.map((r) => [r.created, r.job.state]), [[true, "waiting"], [true, "waiting"], [true, "delayed"]]);
      assert.deepEqual(await store.counts(Q), {
        waiting: 2, paused: 0, delayed: 1, active: 0, completed: 0, failed: 0, dead: 0, cancelled: 0,
      });
      await eventually(() => events.length >= 3);
      assert.deepEqual(events.map((e) => e.type), ["enqueued", "enqueued", "enqueued"]);
    });

    it("keeps queues apart", async (store) => {
      await store.enqueue(Q, [newJob()], T0);
      await store.enqueue("other", [newJob(), newJob()], T0);
      assert.equal((await store.counts(Q)).waiting, 1);
      assert.equal((await store.counts("other")).waiting, 2);
    });

    it("returns the existing job for a known jobId, in any state", async (store) => {
      const [first] = await store.enqueue(Q, [newJob({ id: "fixed-id" })], T0);
      const [second] = await store.enqueue(Q, [newJob({ id: "fixed-id", payload: { n: 2 } })], T0);
      assert.equal(second!.created, false);
      assert.deepEqual(second!.job.payload, first!.job.payload);
      const claimed = await claimOne(store);
      await complete(store, claimed.id, claimed.lease!.token, "done", T0 + 1);
      const [third] = await store.enqueue(Q, [newJob({ id: "fixed-id" })], T0 + 2);
      assert.equal(third!.created, false);
      assert.equal(third!.job.state, "completed");
    });

    it("deduplicates by key while pending, and frees the key when the job finishes", async (store) => {
      const [a] = await store.enqueue(Q, [newJob({ dedupKey: "k" })], T0);
      const [b] = await store.enqueue(Q, [newJob({ dedupKey: "k" })], T0);
      assert.equal(b!.created, false);
      assert.equal(b!.job.id, a!.job.id);
      const claimed = await claimOne(store);
      const [c] = await store.enqueue(Q, [newJob({ dedupKey: "k" })], T0);
      assert.equal(c!.created, false, "an active job still holds its key");
      await complete(store, claimed.id, claimed.lease!.token, null, T0);
      const [d] = await store.enqueue(Q, [newJob({ dedupKey: "k" })], T0);
      assert.equal(d!.created, true);
      assert.notEqual(d!.job.id, a!.job.id);
    });

    it("claims by priority, then first in first out", async (store) => {
      const added = await store.enqueue(Q, [
        newJob({ payload: "low-1", priority: 300 }),
        newJob({ payload: "normal-1" }),
        newJob({ payload: "critical", priority: 0 }),
        newJob({ payload: "normal-2" }),
        newJob({ payload: "low-2", priority: 300 }),
      ], T0);
      assert.equal(added.length, 5);
      const listed = await store.list(Q, "waiting", { offset: 0, limit: 10 });
      assert.deepEqual(listed.map((j) => j.payload), ["critical", "normal-1", "normal-2", "low-1", "low-2"]);
      const { jobs } = await store.claim(Q, { ...LEASE, limit: 10, now: T0 });
      assert.deepEqual(jobs.map((j) => j.payload), ["critical", "normal-1", "normal-2", "low-1", "low-2"]);
      assert.ok(jobs.every((j) => j.state === "active" && j.lease?.workerId === "w1" && j.lease.expiresAt === T0 + 1_000));
      assert.equal(new Set(jobs.map((j) => j.lease!.token)).size, 5);
    });

    it("claims no more than the limit", async (store) => {
      await store.enqueue(Q, [newJob(), newJob(), newJob()], T0);
      const { jobs } = await store.claim(Q, { ...LEASE, limit: 2, now: T0 });
      assert.equal(jobs.length, 2);
      assert.equal((await store.counts(Q)).waiting, 1);
    });

    it("holds delayed jobs until due and reports when the next one is due", async (store) => {
      await store.enqueue(Q, [newJob({ runAt: T0 + 200, payload: "later" }), newJob({ runAt: T0 + 100, payload: "sooner" })], T0);
      const early = await store.claim(Q, { ...LEASE, limit: 5, now: T0 + 99 });
      assert.equal(early.jobs.length, 0);
      assert.equal(early.nextDueAt, T0 + 100);
      const listed = await store.list(Q, "delayed", { offset: 0, limit: 5 });
      assert.deepEqual(listed.map((j) => j.payload), ["sooner", "later"]);
      const due = await store.claim(Q, { ...LEASE, limit: 5, now: T0 + 150 });
      assert.deepEqual(due.jobs.map((j) => j.payload), ["sooner"]);
      assert.equal(due.nextDueAt, T0 + 200);
      const all = await store.claim(Q, { ...LEASE, limit: 5, now: T0 + 200 });
      assert.deepEqual(all.jobs.map((j) => j.payload), ["later"]);
      assert.equal(all.nextDueAt, null);
    });

    it("completes only with the current lease token", async (store, events) => {
      await store.enqueue(Q, [newJob()], T0);
      const job = await claimOne(store);
      assert.equal(await complete(store, job.id, "not-the-token", 1, T0), null);
      const done = await complete(store, job.id, job.lease!.token, { ok: true }, T0 + 25);
      assert.equal(done?.state, "completed");
      assert.deepEqual(done?.result, { ok: true });
      assert.equal(done?.attemptsMade, 1);
      assert.equal(done?.finishedAt, T0 + 25);
      assert.equal(done?.lease, null);
      assert.equal(await complete(store, job.id, job.lease!.token, 2, T0), null, "a token works once");
      await eventually(() => count(events, "completed") > 0);
      const completed = events.find((e) => e.type === "completed");
      assert.ok(completed && completed.type === "completed" && completed.durationMs === 25);
    });

    it("retries a failed attempt at the given time, then dead-letters it", async (store, events) => {
      await store.enqueue(Q, [newJob({ maxAttempts: 2 })], T0);
      const first = await claimOne(store);
      const error = { name: "Error", message: "boom" };
      const retried = await fail(store, first.id, first.lease!.token, { error, now: T0, retryAt: T0 + 500 });
      assert.equal(retried?.state, "delayed");
      assert.equal(retried?.attemptsMade, 1);
      assert.deepEqual(retried?.lastError, error);
      assert.equal((await store.claim(Q, { ...LEASE, limit: 1, now: T0 + 499 })).jobs.length, 0);
      const second = await claimOne(store, T0 + 500);
      const dead = await fail(store, second.id, second.lease!.token, { error, now: T0 + 600, retryAt: null });
      assert.equal(dead?.state, "dead");
      assert.deepEqual(dead?.dead, { reason: "attempts-exhausted", at: T0 + 600, attempts: 2, queue: Q, error });
      await eventually(() => count(events, "dead") > 0);
      assert.deepEqual(
        events.filter((e) => e.type !== "enqueued" && e.type !== "active").map((e) => e.type),
        ["failed", "retrying", "failed", "dead"],
      );
      assert.equal((await store.counts(Q)).dead, 1);
    });

    it("retries immediately when retryAt is not in the future", async (store) => {
      await store.enqueue(Q, [newJob({ maxAttempts: 3 })], T0);
      const job = await claimOne(store);
      const failed = await fail(store, job.id, job.lease!.token, { error: { name: "E", message: "x" }, now: T0, retryAt: T0 });
      assert.equal(failed?.state, "waiting");
    });

    it("finishes as failed, not dead, when dead-lettering is off", async (store) => {
      await store.enqueue(Q, [newJob({ deadLetter: false })], T0);
      const job = await claimOne(store);
      const failed = await fail(store, job.id, job.lease!.token, { error: { name: "E", message: "x" }, now: T0, retryAt: null });
      assert.equal(failed?.state, "failed");
      assert.equal(failed?.dead, null);
    });

    it("records who enqueued a job and who last cancelled or retried it", async (store) => {
      const [named, anonymous] = await store.enqueue(Q, [newJob({ createdBy: "alice" }), newJob()], T0);
      assert.equal(named!.job.createdBy, "alice");
      assert.equal((await store.get(Q, named!.job.id))?.createdBy, "alice");
      assert.equal((await store.get(Q, anonymous!.job.id))?.createdBy, null);
      await store.cancel(Q, named!.job.id, T0 + 1, "bob");
      const cancelled = await store.get(Q, named!.job.id);
      assert.deepEqual([cancelled?.state, cancelled?.createdBy, cancelled?.changedBy], ["cancelled", "alice", { action: "cancel", by: "bob", at: T0 + 1 }]);
      const retried = await store.retry(Q, named!.job.id, T0 + 2, "carol");
      assert.deepEqual(retried?.changedBy, { action: "retry", by: "carol", at: T0 + 2 });
      assert.deepEqual((await store.get(Q, named!.job.id))?.changedBy, { action: "retry", by: "carol", at: T0 + 2 });
      await store.cancel(Q, anonymous!.job.id, T0 + 3);
      assert.equal((await store.get(Q, anonymous!.job.id))?.changedBy, null, "a change without a name records nothing");
    });

    it("extends leases held by their token and reports the rest as lost", async (store) => {
      await store.enqueue(Q, [newJob(), newJob()], T0);
      const { jobs } = await store.claim(Q, { ...LEASE, limit: 2, now: T0 });
      const [a, b] = jobs as [typeof jobs[0], typeof jobs[0]];
      await store.cancel(Q, b.id, T0);
      const lost = await store.extendLeases(Q, [{ id: a.id, token: a.lease!.token }, { id: b.id, token: b.lease!.token }], 5_000, T0 + 900);
      assert.deepEqual(lost, [b.id]);
      assert.equal((await store.get(Q, a.id))?.lease?.expiresAt, T0 + 5_900);
    });

    it("requeues jobs whose lease expired, then fails them after maxStalls", async (store, events) => {
      await store.enqueue(Q, [newJob()], T0);
      const first = await claimOne(store);
      assert.deepEqual(await store.recoverStalled(Q, T0 + 999, 1), { requeued: [], failed: [] }, "lease still valid");
      const once = await store.recoverStalled(Q, T0 + 1_000, 1);
      assert.deepEqual(once.requeued.map((j) => [j.id, j.state, j.stalls]), [[first.id, "waiting", 1]]);
      assert.equal(await complete(store, first.id, first.lease!.token, null, T0 + 1_001), null, "the stalled holder is fenced off");
      await claimOne(store, T0 + 2_000);
      const twice = await store.recoverStalled(Q, T0 + 3_000, 1);
      assert.deepEqual(twice.failed.map((j) => [j.id, j.state, j.dead?.reason]), [[first.id, "dead", "stalled"]]);
      await eventually(() => count(events, "stalled") >= 2);
      assert.deepEqual(events.filter((e) => e.type === "stalled").map((e) => e.type === "stalled" && e.requeued), [true, false]);
    });

    it("releases an active job back to waiting without spending an attempt", async (store) => {
      await store.enqueue(Q, [newJob({ maxAttempts: 1 })], T0);
      const job = await claimOne(store);
      assert.equal(await store.release(Q, job.id, job.lease!.token, T0 + 10), true);
      const again = await claimOne(store, T0 + 10);
      assert.equal(again.id, job.id);
      assert.equal(again.attemptsMade, 0);
      assert.equal(await store.release(Q, job.id, job.lease!.token, T0 + 10), false, "old token");
      // Released for later (a worker over its rate limit): delayed until then, still unspent.
      assert.equal(await store.release(Q, again.id, again.lease!.token, T0 + 20, T0 + 500), true);
      assert.equal((await store.get(Q, job.id))?.state, "delayed");
      const early = await store.claim(Q, { ...LEASE, limit: 1, now: T0 + 499 });
      assert.deepEqual([early.jobs.length, early.nextDueAt], [0, T0 + 500]);
      const later = await claimOne(store, T0 + 500);
      assert.deepEqual([later.id, later.attemptsMade], [job.id, 0]);
    });

    it("cancels waiting, delayed and active jobs, and not finished ones", async (store, events) => {
      const [w, d] = await store.enqueue(Q, [newJob(), newJob({ runAt: T0 + 100 }), newJob()], T0);
      const active = await claimOne(store);
      assert.equal(active.id, w!.job.id);
      assert.deepEqual(await store.cancel(Q, d!.job.id, T0), { status: "cancelled", previous: "delayed" });
      assert.deepEqual(await store.cancel(Q, active.id, T0), { status: "cancelled", previous: "active" });
      assert.deepEqual(await store.cancel(Q, active.id, T0), { status: "finished", state: "cancelled" });
      assert.deepEqual(await store.cancel(Q, "missing", T0), { status: "not-found" });
      assert.equal(await complete(store, active.id, active.lease!.token, null, T0), null);
      const { jobs, nextDueAt } = await store.claim(Q, { ...LEASE, limit: 10, now: T0 + 1_000 });
      assert.equal(jobs.length, 1, "only the one still waiting is claimable");
      assert.equal(nextDueAt, null);
      await eventually(() => count(events, "cancelled") >= 2);
      assert.equal(count(events, "cancelled"), 2);
      assert.equal((await store.counts(Q)).cancelled, 2);
    });

    it("retries dead, failed and cancelled jobs with fresh attempts", async (store) => {
      await store.enqueue(Q, [newJob({ maxAttempts: 1 })], T0);
      const job = await claimOne(store);
      await fail(store, job.id, job.lease!.token, { error: { name: "E", message: "x" }, now: T0, retryAt: null });
      const retried = await store.retry(Q, job.id, T0 + 5);
      assert.equal(retried?.state, "waiting");
      assert.equal(retried?.attemptsMade, 0);
      assert.equal(retried?.dead, null);
      assert.equal(await store.retry(Q, job.id, T0 + 5), null, "a waiting job is not retried");
      assert.equal((await claimOne(store, T0 + 5)).id, job.id);
    });

    it("removes jobs that are not active, and cleans finished ones by age", async (store) => {
      const added = await store.enqueue(Q, [newJob(), newJob(), newJob()], T0);
      const active = await claimOne(store);
      assert.equal(await store.remove(Q, active.id, T0), false);
      const waitingId = added.map((r) => r.job.id).find((id) => id !== active.id)!;
      assert.equal(await store.remove(Q, waitingId, T0), true);
      assert.equal(await store.get(Q, waitingId), null);
      await complete(store, active.id, active.lease!.token, null, T0 + 100);
      const other = await claimOne(store, T0 + 100);
      await complete(store, other.id, other.lease!.token, null, T0 + 300);
      assert.equal(await store.clean(Q, "completed", T0 + 200, 100), 1);
      assert.deepEqual((await store.list(Q, "completed", { offset: 0, limit: 10 })).map((j) => j.id), [other.id]);
      assert.equal(await store.clean(Q, "waiting", T0 + 1_000, 100), 0, "only finished states are cleaned");
    });

    it("keeps finished jobs by count and by age", async (store) => {
      const keepTwo = { removeOnComplete: { count: 2, ageMs: null } };
      await store.enqueue(Q, [newJob(keepTwo), newJob(keepTwo), newJob(keepTwo)], T0);
      for (let i = 0; i < 3; i++) {
        const job = await claimOne(store, T0 + i);
        await complete(store, job.id, job.lease!.token, i, T0 + i);
      }
      const kept = await store.list(Q, "completed", { offset: 0, limit: 10 });
      assert.deepEqual(kept.map((j) => j.result), [2, 1], "newest first, oldest dropped");
      const removeNow = { removeOnComplete: { count: 0, ageMs: null } };
      const [gone] = await store.enqueue(Q, [newJob(removeNow)], T0);
      const job = await claimOne(store, T0 + 10);
      await complete(store, job.id, job.lease!.token, null, T0 + 10);
      assert.equal(await store.get(Q, gone!.job.id), null);
      const byAge = { removeOnFail: { count: null, ageMs: 1_000 }, deadLetter: false };
      await store.enqueue(Q, [newJob(byAge), newJob(byAge)], T0);
      const f1 = await claimOne(store, T0);
      await fail(store, f1.id, f1.lease!.token, { error: { name: "E", message: "x" }, now: T0, retryAt: null });
      const f2 = await claimOne(store, T0 + 5_000);
      await fail(store, f2.id, f2.lease!.token, { error: { name: "E", message: "x" }, now: T0 + 5_000, retryAt: null });
      assert.deepEqual((await store.list(Q, "failed", { offset: 0, limit: 10 })).map((j) => j.id), [f2.id]);
      assert.equal(DEFAULT_RETENTION.count, 1000);
    });

    it("pauses and resumes claiming", async (store, events) => {
      await store.enqueue(Q, [newJob(), newJob()], T0);
      await store.setPaused(Q, true, T0);
      assert.equal(await store.isPaused(Q), true);
      assert.equal((await store.claim(Q, { ...LEASE, limit: 5, now: T0 })).jobs.length, 0);
      const counts = await store.counts(Q);
      assert.equal(counts.paused, 2);
      assert.equal(counts.waiting, 0);
      await store.setPaused(Q, false, T0);
      assert.equal((await store.claim(Q, { ...LEASE, limit: 5, now: T0 })).jobs.length, 2);
      await eventually(() => count(events, "resumed") > 0);
      assert.deepEqual(events.filter((e) => e.type === "paused" || e.type === "resumed").map((e) => e.type), ["paused", "resumed"]);
    });

    it("lists with paging, finished states newest first", async (store) => {
      await store.enqueue(Q, Array.from({ length: 5 }, (_, i) => newJob({ payload: i })), T0);
      for (let i = 0; i < 5; i++) {
        const job = await claimOne(store, T0 + i);
        await complete(store, job.id, job.lease!.token, i, T0 + i);
      }
      const page1 = await store.list(Q, "completed", { offset: 0, limit: 2 });
      const page2 = await store.list(Q, "completed", { offset: 2, limit: 2 });
      const page3 = await store.list(Q, "completed", { offset: 4, limit: 2 });
      assert.deepEqual([page1, page2, page3].map((p) => p.map((j) => j.result)), [[4, 3], [2, 1], [0]]);
    });

    it("records progress and log lines only for the lease holder", async (store, events) => {
      await store.enqueue(Q, [newJob()], T0);
      const job = await claimOne(store);
      assert.equal(await store.setProgress(Q, job.id, job.lease!.token, { pct: 50 }, T0), true);
      assert.equal(await store.appendLog(Q, job.id, job.lease!.token, "line one"), true);
      assert.equal(await store.setProgress(Q, job.id, "stale", 99, T0), false);
      assert.equal(await store.appendLog(Q, job.id, "stale", "nope"), false);
      const stored = await store.get(Q, job.id);
      assert.deepEqual(stored?.progress, { pct: 50 });
      assert.deepEqual(stored?.logs, ["line one"]);
      await eventually(() => count(events, "progress") > 0);
      assert.equal(count(events, "progress"), 1);
    });

    it("hands out copies: changing a returned job changes nothing stored", async (store) => {
      const [added] = await store.enqueue(Q, [newJob({ payload: { list: [1] } })], T0);
      (added!.job as { state: string }).state = "completed";
      (added!.job.payload as { list: number[] }).list.push(2);
      const stored = await store.get(Q, added!.job.id);
      assert.equal(stored?.state, "waiting");
      assert.deepEqual(stored?.payload, { list: [1] });
    });

    it("finishes a batch of outcomes in order and claims next jobs in the same call", async (store) => {
      await store.enqueue(Q, Array.from({ length: 5 }, (_, i) => newJob({ payload: i, maxAttempts: 2 })), T0);
      const { jobs } = await store.claim(Q, { ...LEASE, limit: 3, now: T0 });
      const [a, b, c] = jobs as [typeof jobs[0], typeof jobs[0], typeof jobs[0]];
      const { finished, claimed } = await store.finish(Q, {
        outcomes: [
          { id: a.id, token: a.lease!.token, kind: "completed", result: "A" },
          { id: b.id, token: b.lease!.token, kind: "failed", error: { name: "E", message: "b" }, retryAt: T0 + 50 },
          { id: c.id, token: "stale", kind: "completed", result: "C" },
        ],
        now: T0 + 10,
        claim: { ...LEASE, limit: 3 },
      });
      assert.deepEqual(finished, ["completed", "delayed", null]);
      assert.deepEqual(claimed?.jobs.map((j) => j.payload), [3, 4]);
      assert.equal(claimed?.nextDueAt, T0 + 50);
      assert.equal((await store.get(Q, c.id))?.state, "active", "a stale token changes nothing");
    });

    it("delivers only the event types a subscriber asked for", async (store) => {
      const seen: string[] = [];
      const only = store.subscribe(Q, (e) => seen.push(e.type), ["completed"]);
      await only.ready;
      await store.enqueue(Q, [newJob()], T0);
      const job = await claimOne(store);
      await complete(store, job.id, job.lease!.token, null, T0);
      await eventually(() => seen.length > 0);
      only.close();
      assert.deepEqual(seen, ["completed"]);
    });

    it("delivers published events to subscribers of that queue only", async (store, events) => {
      const elsewhere: ConveyorEventData[] = [];
      const other = store.subscribe("other", (e) => elsewhere.push(e));
      await other.ready;
      store.publish(Q, { type: "drained", queue: Q, at: T0 });
      await eventually(() => events.length > 0);
      other.close();
      assert.deepEqual(events, [{ type: "drained", queue: Q, at: T0 }]);
      assert.deepEqual(elsewhere, []);
    });

    it("keeps records by namespace and key: replaced whole, listed in key order, deleted", async (store) => {
      assert.equal(await store.getRecord("schedules", "a"), null);
      const value = { every: 1000, payload: { n: 1 }, note: "x y:z" };
      await store.putRecord("schedules", "b:2", value);
      await store.putRecord("schedules", "a 1", { n: 1 });
      await store.putRecord("other", "a 1", { n: 99 });
      value.payload.n = 7; // what was stored is a copy
      assert.deepEqual(await store.getRecord("schedules", "b:2"), { every: 1000, payload: { n: 1 }, note: "x y:z" });
      await store.putRecord("schedules", "a 1", { n: 2 });
      assert.deepEqual(await store.listRecords("schedules"), [
        { key: "a 1", value: { n: 2 } },
        { key: "b:2", value: { every: 1000, payload: { n: 1 }, note: "x y:z" } },
      ]);
      assert.equal(await store.deleteRecord("schedules", "a 1"), true);
      assert.equal(await store.deleteRecord("schedules", "a 1"), false);
      assert.deepEqual((await store.listRecords("schedules")).map((r) => r.key), ["b:2"]);
      assert.deepEqual(await store.getRecord("other", "a 1"), { n: 99 });
      assert.deepEqual(await store.listRecords("none"), []);
    });

    it("compare-and-set of a record: inserts only where there is none, replaces only the record expected", async (store) => {
      const value = { n: 1, tags: ["a"] };
      assert.equal(await store.compareAndSetRecord("claims", "k", null, value), true, "none there: inserted");
      value.n = 99; // what was stored is a copy
      assert.equal(await store.compareAndSetRecord("claims", "k", null, { n: 2 }), false, "one there: not inserted again");
      assert.equal(await store.compareAndSetRecord("claims", "k", { n: 0, tags: ["a"] }, { n: 2 }), false, "not the expected record");
      assert.deepEqual(await store.getRecord("claims", "k"), { n: 1, tags: ["a"] });
      const current = await store.getRecord("claims", "k");
      assert.equal(await store.compareAndSetRecord("claims", "k", current, { n: 2, tags: [] }), true, "the expected record: replaced");
      assert.equal(await store.compareAndSetRecord("claims", "k", current, { n: 3 }), false, "a stale expectation fails");
      assert.deepEqual(await store.getRecord("claims", "k"), { n: 2, tags: [] });
      assert.equal(await store.compareAndSetRecord("other", "k", null, { n: 7 }), true, "namespaces are apart");
      assert.deepEqual(await store.listRecords("claims"), [{ key: "k", value: { n: 2, tags: [] } }]);
      assert.equal(await store.deleteRecord("claims", "k"), true);
      assert.equal(await store.compareAndSetRecord("claims", "k", null, { n: 4 }), true, "deleted: insertable again");
      assert.deepEqual(await store.getRecord("claims", "k"), { n: 4 });
    });

    it("compare-and-set loses no update: concurrent read-change-swap loops each count once", async (store) => {
      const increment = async () => {
        for (let tries = 1; ; tries++) {
          const current = await store.getRecord<{ count: number }>("counters", "c");
          if (await store.compareAndSetRecord("counters", "c", current, { count: (current?.count ?? 0) + 1 })) return tries;
        }
      };
      const tries = await Promise.all(Array.from({ length: 20 }, increment));
      assert.deepEqual(await store.getRecord("counters", "c"), { count: 20 });
      assert.ok(tries.every((n) => n >= 1));
    });

    it("lists active jobs by start time, whatever their leases say", async (store) => {
      await store.enqueue(Q, [newJob({ payload: "A" }), newJob({ payload: "B" })], T0);
      const a = await claimOne(store, T0);
      const b = await claimOne(store, T0 + 10);
      assert.deepEqual(await store.extendLeases(Q, [{ id: a.id, token: a.lease!.token }], 5_000, T0 + 20), []);
      const listed = await store.list(Q, "active", { offset: 0, limit: 10 });
      assert.deepEqual(listed.map((j) => j.payload), ["A", "B"], "A started first, though its lease now ends last");
      assert.deepEqual((await store.list(Q, "active", { offset: 1, limit: 1 })).map((j) => j.id), [b.id]);
    });
  });
}
