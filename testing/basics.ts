// The basic cases, first half: enqueueing, claiming, finishing, leases and stalls.
import assert from "node:assert/strict";
import { caseOf, claimOne, complete, count, eventually, fail, LEASE } from "./basics-support.ts";
import { moreBasicCases } from "./basics-more.ts";
import { newJob, Q, type StoreUnderTest, T0 } from "./target.ts";

export function basicCases(target: StoreUnderTest): void {
  const it = caseOf(target);

  it("enqueues, assigns distinct ids and reports counts", async (store, events) => {
    const results = await store.enqueue(Q, { jobs: [newJob(), newJob(), newJob({ runAt: T0 + 500 })], now: T0 });
    assert.equal(new Set(results.map((r) => r.job.id)).size, 3);
    assert.deepEqual(results.map((r) => [r.created, r.job.state]), [[true, "waiting"], [true, "waiting"], [
      true,
      "delayed",
    ]]);
    assert.deepEqual(await store.counts(Q), {
      waiting: 2,
      paused: 0,
      delayed: 1,
      active: 0,
      "waiting-children": 0,
      completed: 0,
      failed: 0,
      dead: 0,
      cancelled: 0,
    });
    await eventually(() => events.length >= 3);
    assert.deepEqual(events.map((e) => e.type), ["enqueued", "enqueued", "enqueued"]);
  });

  it("keeps queues apart", async (store) => {
    await store.enqueue(Q, { jobs: [newJob()], now: T0 });
    await store.enqueue("other", { jobs: [newJob(), newJob()], now: T0 });
    assert.equal((await store.counts(Q)).waiting, 1);
    assert.equal((await store.counts("other")).waiting, 2);
  });

  it("returns the existing job for a known jobId, in any state", async (store) => {
    const [first] = await store.enqueue(Q, { jobs: [newJob({ id: "fixed-id" })], now: T0 });
    const [second] = await store.enqueue(Q, { jobs: [newJob({ id: "fixed-id", payload: { n: 2 } })], now: T0 });
    assert.equal(second!.created, false);
    assert.deepEqual(second!.job.payload, first!.job.payload);
    const claimed = await claimOne(store);
    await complete(store, claimed.id, claimed.lease!.token, "done", T0 + 1);
    const [third] = await store.enqueue(Q, { jobs: [newJob({ id: "fixed-id" })], now: T0 + 2 });
    assert.equal(third!.created, false);
    assert.equal(third!.job.state, "completed");
  });

  it("deduplicates by key while pending, and frees the key when the job finishes", async (store) => {
    const [a] = await store.enqueue(Q, { jobs: [newJob({ dedupKey: "k" })], now: T0 });
    const [b] = await store.enqueue(Q, { jobs: [newJob({ dedupKey: "k" })], now: T0 });
    assert.equal(b!.created, false);
    assert.equal(b!.job.id, a!.job.id);
    const claimed = await claimOne(store);
    const [c] = await store.enqueue(Q, { jobs: [newJob({ dedupKey: "k" })], now: T0 });
    assert.equal(c!.created, false, "an active job still holds its key");
    await complete(store, claimed.id, claimed.lease!.token, null, T0);
    const [d] = await store.enqueue(Q, { jobs: [newJob({ dedupKey: "k" })], now: T0 });
    assert.equal(d!.created, true);
    assert.notEqual(d!.job.id, a!.job.id);
  });

  it("claims by priority, then first in first out", async (store) => {
    const added = await store.enqueue(Q, { jobs: [
      newJob({ payload: "low-1", priority: 300 }),
      newJob({ payload: "normal-1" }),
      newJob({ payload: "critical", priority: 0 }),
      newJob({ payload: "normal-2" }),
      newJob({ payload: "low-2", priority: 300 }),
    ], now: T0 });
    assert.equal(added.length, 5);
    const listed = await store.list(Q, "waiting", { offset: 0, limit: 10 });
    assert.deepEqual(listed.map((j) => j.payload), ["critical", "normal-1", "normal-2", "low-1", "low-2"]);
    const { jobs } = await store.claim(Q, { ...LEASE, limit: 10, now: T0 });
    assert.deepEqual(jobs.map((j) => j.payload), ["critical", "normal-1", "normal-2", "low-1", "low-2"]);
    assert.ok(
      jobs.every((j) => j.state === "active" && j.lease?.workerId === "w1" && j.lease.expiresAt === T0 + 1_000),
    );
    assert.equal(new Set(jobs.map((j) => j.lease!.token)).size, 5);
  });

  it("claims no more than the limit", async (store) => {
    await store.enqueue(Q, { jobs: [newJob(), newJob(), newJob()], now: T0 });
    const { jobs } = await store.claim(Q, { ...LEASE, limit: 2, now: T0 });
    assert.equal(jobs.length, 2);
    assert.equal((await store.counts(Q)).waiting, 1);
  });

  it("holds delayed jobs until due and reports when the next one is due", async (store) => {
    await store.enqueue(Q, { jobs: [
      newJob({ runAt: T0 + 200, payload: "later" }),
      newJob({ runAt: T0 + 100, payload: "sooner" }),
    ], now: T0 });
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
    await store.enqueue(Q, { jobs: [newJob()], now: T0 });
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
    await store.enqueue(Q, { jobs: [newJob({ maxAttempts: 2 })], now: T0 });
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
    await store.enqueue(Q, { jobs: [newJob({ maxAttempts: 3 })], now: T0 });
    const job = await claimOne(store);
    const failed = await fail(store, job.id, job.lease!.token, {
      error: { name: "E", message: "x" },
      now: T0,
      retryAt: T0,
    });
    assert.equal(failed?.state, "waiting");
  });

  it("finishes as failed, not dead, when dead-lettering is off", async (store) => {
    await store.enqueue(Q, { jobs: [newJob({ deadLetter: false })], now: T0 });
    const job = await claimOne(store);
    const failed = await fail(store, job.id, job.lease!.token, {
      error: { name: "E", message: "x" },
      now: T0,
      retryAt: null,
    });
    assert.equal(failed?.state, "failed");
    assert.equal(failed?.dead, null);
  });

  it("records who enqueued a job and who last cancelled or retried it", async (store) => {
    const [named, anonymous] = await store.enqueue(Q, { jobs: [newJob({ createdBy: "alice" }), newJob()], now: T0 });
    assert.equal(named!.job.createdBy, "alice");
    assert.equal((await store.get(Q, named!.job.id))?.createdBy, "alice");
    assert.equal((await store.get(Q, anonymous!.job.id))?.createdBy, null);
    await store.cancel(Q, { id: named!.job.id, now: T0 + 1, by: "bob" });
    const cancelled = await store.get(Q, named!.job.id);
    assert.deepEqual([cancelled?.state, cancelled?.createdBy, cancelled?.changedBy], ["cancelled", "alice", {
      action: "cancel",
      by: "bob",
      at: T0 + 1,
    }]);
    const retried = await store.retry(Q, { id: named!.job.id, now: T0 + 2, by: "carol" });
    assert.deepEqual(retried.status === "retried" && retried.job.changedBy, {
      action: "retry",
      by: "carol",
      at: T0 + 2,
    });
    assert.deepEqual((await store.get(Q, named!.job.id))?.changedBy, { action: "retry", by: "carol", at: T0 + 2 });
    await store.cancel(Q, { id: anonymous!.job.id, now: T0 + 3 });
    assert.equal((await store.get(Q, anonymous!.job.id))?.changedBy, null, "a change without a name records nothing");
  });

  it("extends leases held by their token and reports the rest as lost", async (store) => {
    await store.enqueue(Q, { jobs: [newJob(), newJob()], now: T0 });
    const { jobs } = await store.claim(Q, { ...LEASE, limit: 2, now: T0 });
    const [a, b] = jobs as [typeof jobs[0], typeof jobs[0]];
    await store.cancel(Q, { id: b.id, now: T0 });
    const lost = await store.extendLeases(
      Q,
      { leases: [{ id: a.id, token: a.lease!.token }, { id: b.id, token: b.lease!.token }], leaseMs: 5_000, now: T0 + 900 },
    );
    assert.deepEqual(lost, [b.id]);
    assert.equal((await store.get(Q, a.id))?.lease?.expiresAt, T0 + 5_900);
  });

  it("requeues jobs whose lease expired, then fails them after maxStalls", async (store, events) => {
    await store.enqueue(Q, { jobs: [newJob()], now: T0 });
    const first = await claimOne(store);
    assert.deepEqual(await store.recoverStalled(Q, { now: T0 + 999, maxStalls: 1 }), { requeued: [], failed: [] }, "lease still valid");
    const once = await store.recoverStalled(Q, { now: T0 + 1_000, maxStalls: 1 });
    assert.deepEqual(once.requeued.map((j) => [j.id, j.state, j.stalls]), [[first.id, "waiting", 1]]);
    assert.equal(
      await complete(store, first.id, first.lease!.token, null, T0 + 1_001),
      null,
      "the stalled holder is fenced off",
    );
    await claimOne(store, T0 + 2_000);
    const twice = await store.recoverStalled(Q, { now: T0 + 3_000, maxStalls: 1 });
    assert.deepEqual(twice.failed.map((j) => [j.id, j.state, j.dead?.reason]), [[first.id, "dead", "stalled"]]);
    await eventually(() => count(events, "stalled") >= 2);
    assert.deepEqual(events.filter((e) => e.type === "stalled").map((e) => e.type === "stalled" && e.requeued), [
      true,
      false,
    ]);
  });

  it("releases an active job back to waiting without spending an attempt", async (store) => {
    await store.enqueue(Q, { jobs: [newJob({ maxAttempts: 1 })], now: T0 });
    const job = await claimOne(store);
    assert.equal(await store.release(Q, { id: job.id, token: job.lease!.token, now: T0 + 10 }), true);
    const again = await claimOne(store, T0 + 10);
    assert.equal(again.id, job.id);
    assert.equal(again.attemptsMade, 0);
    assert.equal(await store.release(Q, { id: job.id, token: job.lease!.token, now: T0 + 10 }), false, "old token");
    // Released for later (a worker over its rate limit): delayed until then, still unspent.
    assert.equal(await store.release(Q, { id: again.id, token: again.lease!.token, now: T0 + 20, runAt: T0 + 500 }), true);
    assert.equal((await store.get(Q, job.id))?.state, "delayed");
    const early = await store.claim(Q, { ...LEASE, limit: 1, now: T0 + 499 });
    assert.deepEqual([early.jobs.length, early.nextDueAt], [0, T0 + 500]);
    const later = await claimOne(store, T0 + 500);
    assert.deepEqual([later.id, later.attemptsMade], [job.id, 0]);
  });

  moreBasicCases(target);
}
