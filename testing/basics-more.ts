// The basic cases, second half: hand-made changes, reads, pausing and records.
import assert from "node:assert/strict";
import { type ConveyorEventData, DEFAULT_RETENTION } from "../mod.ts";
import { caseOf, claimOne, complete, count, eventually, fail, LEASE } from "./basics-support.ts";
import { newJob, Q, type StoreUnderTest, T0 } from "./target.ts";

export function moreBasicCases(target: StoreUnderTest): void {
  const it = caseOf(target);

  it("cancels waiting, delayed and active jobs, and not finished ones", async (store, events) => {
    const [w, d] = await store.enqueue(Q, { jobs: [newJob(), newJob({ runAt: T0 + 100 }), newJob()], now: T0 });
    const active = await claimOne(store);
    assert.equal(active.id, w!.job.id);
    assert.deepEqual(await store.cancel(Q, { id: d!.job.id, now: T0 }), { status: "cancelled", previous: "delayed" });
    assert.deepEqual(await store.cancel(Q, { id: active.id, now: T0 }), { status: "cancelled", previous: "active" });
    assert.deepEqual(await store.cancel(Q, { id: active.id, now: T0 }), { status: "finished", state: "cancelled" });
    assert.deepEqual(await store.cancel(Q, { id: "missing", now: T0 }), { status: "not-found" });
    assert.equal(await complete(store, active.id, active.lease!.token, null, T0), null);
    const { jobs, nextDueAt } = await store.claim(Q, { ...LEASE, limit: 10, now: T0 + 1_000 });
    assert.equal(jobs.length, 1, "only the one still waiting is claimable");
    assert.equal(nextDueAt, null);
    await eventually(() => count(events, "cancelled") >= 2);
    assert.equal(count(events, "cancelled"), 2);
    assert.equal((await store.counts(Q)).cancelled, 2);
  });

  it("retries dead, failed and cancelled jobs with fresh attempts", async (store) => {
    await store.enqueue(Q, { jobs: [newJob({ maxAttempts: 1 })], now: T0 });
    const job = await claimOne(store);
    await fail(store, job.id, job.lease!.token, { error: { name: "E", message: "x" }, now: T0, retryAt: null });
    const retried = await store.retry(Q, { id: job.id, now: T0 + 5 });
    assert.ok(retried.status === "retried");
    assert.equal(retried.job.state, "waiting");
    assert.equal(retried.job.attemptsMade, 0);
    assert.equal(retried.job.dead, null);
    assert.deepEqual(
      await store.retry(Q, { id: job.id, now: T0 + 5 }),
      { status: "not-retryable", state: "waiting" },
      "a waiting job is not retried",
    );
    assert.deepEqual(await store.retry(Q, { id: "no-such-job", now: T0 + 5 }), { status: "not-found" });
    assert.equal((await claimOne(store, T0 + 5)).id, job.id);
  });

  it("removes jobs that are not active, and cleans finished ones by age", async (store) => {
    const added = await store.enqueue(Q, { jobs: [newJob(), newJob(), newJob()], now: T0 });
    const active = await claimOne(store);
    assert.deepEqual(await store.remove(Q, { id: active.id, now: T0 }), { status: "active" });
    assert.deepEqual(await store.remove(Q, { id: "no-such-job", now: T0 }), { status: "not-found" });
    const waitingId = added.map((r) => r.job.id).find((id) => id !== active.id)!;
    assert.deepEqual(await store.remove(Q, { id: waitingId, now: T0 }), { status: "removed" });
    assert.equal(await store.get(Q, waitingId), null);
    await complete(store, active.id, active.lease!.token, null, T0 + 100);
    const other = await claimOne(store, T0 + 100);
    await complete(store, other.id, other.lease!.token, null, T0 + 300);
    assert.equal(await store.clean(Q, { state: "completed", cutoff: T0 + 200, limit: 100 }), 1);
    assert.deepEqual((await store.list(Q, "completed", { offset: 0, limit: 10 })).map((j) => j.id), [other.id]);
    assert.equal(await store.clean(Q, { state: "waiting", cutoff: T0 + 1_000, limit: 100 }), 0, "only finished states are cleaned");
  });

  it("keeps finished jobs by count and by age", async (store) => {
    const keepTwo = { removeOnComplete: { count: 2, ageMs: null } };
    await store.enqueue(Q, { jobs: [newJob(keepTwo), newJob(keepTwo), newJob(keepTwo)], now: T0 });
    for (let i = 0; i < 3; i++) {
      const job = await claimOne(store, T0 + i);
      await complete(store, job.id, job.lease!.token, i, T0 + i);
    }
    const kept = await store.list(Q, "completed", { offset: 0, limit: 10 });
    assert.deepEqual(kept.map((j) => j.result), [2, 1], "newest first, oldest dropped");
    const removeNow = { removeOnComplete: { count: 0, ageMs: null } };
    const [gone] = await store.enqueue(Q, { jobs: [newJob(removeNow)], now: T0 });
    const job = await claimOne(store, T0 + 10);
    await complete(store, job.id, job.lease!.token, null, T0 + 10);
    assert.equal(await store.get(Q, gone!.job.id), null);
    const byAge = { removeOnFail: { count: null, ageMs: 1_000 }, deadLetter: false };
    await store.enqueue(Q, { jobs: [newJob(byAge), newJob(byAge)], now: T0 });
    const f1 = await claimOne(store, T0);
    await fail(store, f1.id, f1.lease!.token, { error: { name: "E", message: "x" }, now: T0, retryAt: null });
    const f2 = await claimOne(store, T0 + 5_000);
    await fail(store, f2.id, f2.lease!.token, { error: { name: "E", message: "x" }, now: T0 + 5_000, retryAt: null });
    assert.deepEqual((await store.list(Q, "failed", { offset: 0, limit: 10 })).map((j) => j.id), [f2.id]);
    assert.equal(DEFAULT_RETENTION.count, 1000);
  });

  it("pauses and resumes claiming", async (store, events) => {
    await store.enqueue(Q, { jobs: [newJob(), newJob()], now: T0 });
    await store.setPaused(Q, { paused: true, now: T0 });
    assert.equal(await store.isPaused(Q), true);
    assert.equal((await store.claim(Q, { ...LEASE, limit: 5, now: T0 })).jobs.length, 0);
    const counts = await store.counts(Q);
    assert.equal(counts.paused, 2);
    assert.equal(counts.waiting, 0);
    await store.setPaused(Q, { paused: false, now: T0 });
    assert.equal((await store.claim(Q, { ...LEASE, limit: 5, now: T0 })).jobs.length, 2);
    await eventually(() => count(events, "resumed") > 0);
    assert.deepEqual(events.filter((e) => e.type === "paused" || e.type === "resumed").map((e) => e.type), [
      "paused",
      "resumed",
    ]);
  });

  it("lists with paging, finished states newest first", async (store) => {
    await store.enqueue(Q, { jobs: Array.from({ length: 5 }, (_, i) => newJob({ payload: i })), now: T0 });
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
    await store.enqueue(Q, { jobs: [newJob()], now: T0 });
    const job = await claimOne(store);
    assert.equal(await store.setProgress(Q, { id: job.id, token: job.lease!.token, progress: { pct: 50 }, now: T0 }), true);
    assert.equal(await store.appendLog(Q, { id: job.id, token: job.lease!.token, line: "line one" }), true);
    assert.equal(await store.setProgress(Q, { id: job.id, token: "stale", progress: 99, now: T0 }), false);
    assert.equal(await store.appendLog(Q, { id: job.id, token: "stale", line: "nope" }), false);
    const stored = await store.get(Q, job.id);
    assert.deepEqual(stored?.progress, { pct: 50 });
    assert.deepEqual(stored?.logs, ["line one"]);
    await eventually(() => count(events, "progress") > 0);
    assert.equal(count(events, "progress"), 1);
  });

  it("hands out copies: changing a returned job changes nothing stored", async (store) => {
    const [added] = await store.enqueue(Q, { jobs: [newJob({ payload: { list: [1] } })], now: T0 });
    (added!.job as { state: string }).state = "completed";
    (added!.job.payload as { list: number[] }).list.push(2);
    const stored = await store.get(Q, added!.job.id);
    assert.equal(stored?.state, "waiting");
    assert.deepEqual(stored?.payload, { list: [1] });
  });

  it("finishes a batch of outcomes in order and claims next jobs in the same call", async (store) => {
    await store.enqueue(Q, { jobs: Array.from({ length: 5 }, (_, i) => newJob({ payload: i, maxAttempts: 2 })), now: T0 });
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
    await store.enqueue(Q, { jobs: [newJob()], now: T0 });
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
    assert.equal(
      await store.compareAndSetRecord("claims", "k", null, { n: 2 }),
      false,
      "one there: not inserted again",
    );
    assert.equal(
      await store.compareAndSetRecord("claims", "k", { n: 0, tags: ["a"] }, { n: 2 }),
      false,
      "not the expected record",
    );
    assert.deepEqual(await store.getRecord("claims", "k"), { n: 1, tags: ["a"] });
    const current = await store.getRecord("claims", "k");
    assert.equal(
      await store.compareAndSetRecord("claims", "k", current, { n: 2, tags: [] }),
      true,
      "the expected record: replaced",
    );
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
      for (let tries = 1;; tries++) {
        const current = await store.getRecord<{ count: number }>("counters", "c");
        if (await store.compareAndSetRecord("counters", "c", current, { count: (current?.count ?? 0) + 1 })) {
          return tries;
        }
      }
    };
    const tries = await Promise.all(Array.from({ length: 20 }, increment));
    assert.deepEqual(await store.getRecord("counters", "c"), { count: 20 });
    assert.ok(tries.every((n) => n >= 1));
  });

  it("lists active jobs by start time, whatever their leases say", async (store) => {
    await store.enqueue(Q, { jobs: [newJob({ payload: "A" }), newJob({ payload: "B" })], now: T0 });
    const a = await claimOne(store, T0);
    const b = await claimOne(store, T0 + 10);
    assert.deepEqual(await store.extendLeases(Q, { leases: [{ id: a.id, token: a.lease!.token }], leaseMs: 5_000, now: T0 + 20 }), []);
    const listed = await store.list(Q, "active", { offset: 0, limit: 10 });
    assert.deepEqual(listed.map((j) => j.payload), ["A", "B"], "A started first, though its lease now ends last");
    assert.deepEqual((await store.list(Q, "active", { offset: 1, limit: 1 })).map((j) => j.id), [b.id]);
  });
}
