// Durable steps (`saveStep`): stored only by the lease holder, kept across stalls, retries and
// restarts, read back with the job.
import assert from "node:assert/strict";
import { test } from "node:test";
import { caseOf, claimOne, fail, LEASE } from "./basics-support.ts";
import { newJob, Q, type StoreUnderTest, T0 } from "./target.ts";

export function stepCases(target: StoreUnderTest): void {
  const it = caseOf(target);

  it("records a step only for the lease holder, and hands the steps out with the job", async (store) => {
    await store.enqueue(Q, { jobs: [newJob()], now: T0 });
    const job = await claimOne(store);
    assert.deepEqual(job.steps, {});
    const token = job.lease!.token;
    assert.equal(await store.saveStep(Q, { id: job.id, token, step: "charge", value: { receipt: "r-1" }, now: T0 }), true);
    assert.equal(await store.saveStep(Q, { id: job.id, token, step: "__proto__", value: [1, 2], now: T0 }), true);
    assert.equal(await store.saveStep(Q, { id: job.id, token: "stale", step: "mail", value: 1, now: T0 }), false);
    const stored = await store.get(Q, job.id);
    assert.deepEqual(stored?.steps.charge, { receipt: "r-1" });
    assert.ok(Object.hasOwn(stored!.steps, "__proto__"), "a step named __proto__ is data, not a prototype");
    assert.deepEqual(Object.keys(stored!.steps).sort(), ["__proto__", "charge"]);
    assert.equal(await store.saveStep(Q, { id: "no-such-job", token, step: "x", value: 1, now: T0 }), false);
  });

  it("keeps steps when the job stalls and when it fails with a retry", async (store) => {
    await store.enqueue(Q, { jobs: [newJob({ maxAttempts: 3 })], now: T0 });
    const first = await claimOne(store);
    await store.saveStep(Q, { id: first.id, token: first.lease!.token, step: "one", value: 1, now: T0 });
    const afterLease = T0 + LEASE.leaseMs + 1;
    const { requeued } = await store.recoverStalled(Q, { now: afterLease, maxStalls: 5 });
    assert.deepEqual(requeued.map((j) => j.id), [first.id]);
    const second = await claimOne(store, afterLease);
    assert.deepEqual(second.steps, { one: 1 });
    await store.saveStep(Q, { id: second.id, token: second.lease!.token, step: "two", value: "b", now: afterLease });
    const error = { name: "Error", message: "boom" };
    await fail(store, second.id, second.lease!.token, { error, now: afterLease, retryAt: afterLease + 10 });
    const third = await claimOne(store, afterLease + 10);
    assert.deepEqual(third.steps, { one: 1, two: "b" });
  });

  if (target.reopen) {
    test("steps survive a restart of the store", async () => {
      let store = await target.create();
      try {
        await store.enqueue(Q, { jobs: [newJob()], now: T0 });
        const job = await claimOne(store);
        await store.saveStep(Q, { id: job.id, token: job.lease!.token, step: "kept", value: { deep: [1, { x: 2 }] }, now: T0 });
        store = await target.reopen!(store);
        assert.deepEqual((await store.get(Q, job.id))?.steps, { kept: { deep: [1, { x: 2 }] } });
      } finally {
        await store.close();
      }
    });
  }
}
