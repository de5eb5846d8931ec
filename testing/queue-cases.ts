// Cases about a queue or a store as a whole, beside the transition table's rows.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isConveyorError, type QueueStore } from "../mod.ts";
import { finishOne } from "./transition-table.ts";
import { newJob, Q, type StoreUnderTest, T0 } from "./target.ts";

export function queueCases(target: StoreUnderTest): void {
  const it = (name: string, body: (store: QueueStore) => Promise<void>) =>
    test(name, async () => {
      const store = await target.create();
      try {
        await body(store);
      } finally {
        await store.close();
      }
    });

  it("active jobs list by start time, whatever their leases", async (store) => {
    const [a, b] = await store.enqueue(Q, { jobs: [newJob(), newJob()], now: T0 });
    await store.claim(Q, { workerId: "w", limit: 1, leaseMs: 5_000, now: T0 });
    const [second] = (await store.claim(Q, { workerId: "w", limit: 1, leaseMs: 1_000, now: T0 + 10 })).jobs;
    const first = await store.get(Q, a!.job.id);
    await store.extendLeases(Q, { leases: [{ id: second!.id, token: second!.lease!.token }], leaseMs: 10_000, now: T0 + 20 });
    await store.extendLeases(Q, { leases: [{ id: first!.id, token: first!.lease!.token }], leaseMs: 60_000, now: T0 + 20 });
    assert.deepEqual((await store.list(Q, "active", { offset: 0, limit: 10 })).map((j) => j.id), [
      a!.job.id,
      b!.job.id,
    ]);
  });

  it("clean removes at most `limit` jobs, oldest first", async (store) => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const [added] = await store.enqueue(Q, { jobs: [newJob()], now: T0 });
      const [job] = (await store.claim(Q, { workerId: "w", limit: 1, leaseMs: 1_000, now: T0 })).jobs;
      await finishOne(store, job!, { kind: "completed" }, T0 + i);
      ids.push(added!.job.id);
    }
    assert.equal(await store.clean(Q, { state: "completed", cutoff: T0 + 10, limit: 2 }), 2);
    const left = (await store.list(Q, "completed", { offset: 0, limit: 10 })).map((j) => j.id);
    assert.deepEqual(left.sort(), ids.slice(2).sort());
    assert.equal(await store.clean(Q, { state: "completed", cutoff: T0 + 2, limit: 10 }), 1, "only those finished by the cutoff");
  });

  it("enqueue([]) adds nothing and answers []", async (store) => {
    assert.deepEqual(await store.enqueue(Q, { jobs: [], now: T0 }), []);
    assert.equal((await store.counts(Q)).waiting, 0);
  });

  it("a batch naming one id twice makes one job; the second answer is that job, not created", async (store) => {
    const results = await store.enqueue(
      Q,
      { jobs: [newJob({ id: "twice", payload: 1 }), newJob({ id: "twice", payload: 2 })], now: T0 },
    );
    assert.deepEqual(results.map((r) => [r.created, r.job.id, r.job.payload]), [[true, "twice", 1], [
      false,
      "twice",
      1,
    ]]);
    assert.equal((await store.counts(Q)).waiting, 1);
  });

  test("every call after close rejects with STORE_CLOSED", async () => {
    const store = await target.create();
    const [added] = await store.enqueue(Q, { jobs: [newJob()], now: T0 });
    await store.close();
    const id = added!.job.id;
    const calls: [string, () => Promise<unknown>][] = [
      ["enqueue", () => store.enqueue(Q, { jobs: [newJob()], now: T0 })],
      ["claim", () => store.claim(Q, { workerId: "w", limit: 1, leaseMs: 1_000, now: T0 })],
      ["finish", () => store.finish(Q, { now: T0, outcomes: [] })],
      ["extendLeases", () => store.extendLeases(Q, { leases: [], leaseMs: 1_000, now: T0 })],
      ["release", () => store.release(Q, { id, token: "t", now: T0 })],
      ["setProgress", () => store.setProgress(Q, { id, token: "t", progress: 1, now: T0 })],
      ["appendLog", () => store.appendLog(Q, { id, token: "t", line: "line" })],
      ["saveStep", () => store.saveStep(Q, { id, token: "t", step: "s", value: 1, now: T0 })],
      ["recoverStalled", () => store.recoverStalled(Q, { now: T0, maxStalls: 1 })],
      ["cancel", () => store.cancel(Q, { id, now: T0 })],
      ["retry", () => store.retry(Q, { id, now: T0 })],
      ["remove", () => store.remove(Q, { id, now: T0 })],
      ["clean", () => store.clean(Q, { state: "completed", cutoff: T0, limit: 10 })],
      ["get", () => store.get(Q, id)],
      ["list", () => store.list(Q, "waiting", { offset: 0, limit: 10 })],
      ["counts", () => store.counts(Q)],
      ["setPaused", () => store.setPaused(Q, { paused: true, now: T0 })],
      ["isPaused", () => store.isPaused(Q)],
      ["getRecord", () => store.getRecord("ns", "k")],
      ["putRecord", () => store.putRecord("ns", "k", 1)],
      ["deleteRecord", () => store.deleteRecord("ns", "k")],
      ["listRecords", () => store.listRecords("ns")],
    ];
    const wrong: string[] = [];
    for (const [name, call] of calls) {
      try {
        await call();
        wrong.push(`${name} resolved`);
      } catch (error) {
        if (!isConveyorError(error) || error.code !== "STORE_CLOSED") wrong.push(`${name}: ${error}`);
      }
    }
    assert.deepEqual(wrong, []);
    await store.close(); // closing twice is fine
  });

  it('records keep a "__proto__" key as data', async (store) => {
    const value = JSON.parse('{"__proto__": {"x": 1}, "n": 2}');
    await store.putRecord("ns", "k", value);
    const read = await store.getRecord<Record<string, unknown>>("ns", "k");
    assert.ok(read && Object.hasOwn(read, "__proto__"), "kept as an own property");
    assert.equal(JSON.stringify(read), JSON.stringify(value));
    assert.equal(JSON.stringify((await store.listRecords("ns"))[0]?.value), JSON.stringify(value));
    assert.equal(({} as Record<string, unknown>).x, undefined, "no prototype polluted");
  });

  it("a batch repeating a dedup key makes one job", async (store) => {
    const results = await store.enqueue(Q, { jobs: [newJob({ dedupKey: "k" }), newJob({ dedupKey: "k" })], now: T0 });
    assert.deepEqual(results.map((r) => r.created), [true, false]);
    assert.equal(results[0]!.job.id, results[1]!.job.id);
  });
}
