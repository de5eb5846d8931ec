// Cases for stores that declare `durable`: what a restarted process finds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newJob, Q, type StoreUnderTest, T0 } from "./target.ts";

export function durabilityCases(target: StoreUnderTest): void {
  test("durable: every state, order, attempt count, dedup key, pause flag and record survive a reopen", async () => {
    let store = await target.create();
    try {
      await store.enqueue(Q, { jobs: [
        newJob({ payload: "low", priority: 300 }),
        newJob({ payload: "first", dedupKey: "held" }),
        newJob({ payload: "urgent", priority: 0 }),
        newJob({ payload: "later", runAt: T0 + 60_000 }),
        newJob({ payload: "fails" }),
        newJob({ payload: "given-back" }),
      ], now: T0 });
      // Claims urgent, first, fails and given-back (priority, then FIFO): "first" stays active, urgent
      // completes, "fails" fails into the dead-letter store, "given-back" goes back to waiting.
      const claimed = (await store.claim(Q, { workerId: "w", limit: 4, leaseMs: 60_000, now: T0 })).jobs;
      const byPayload = new Map(claimed.map((j) => [j.payload, j]));
      const done = byPayload.get("urgent")!;
      const fails = byPayload.get("fails")!;
      await store.finish(Q, {
        now: T0 + 5,
        outcomes: [
          { id: done.id, token: done.lease!.token, kind: "completed", result: { ok: true } },
          {
            id: fails.id,
            token: fails.lease!.token,
            kind: "failed",
            error: { name: "E", message: "x" },
            retryAt: null,
          },
        ],
      });
      const released = byPayload.get("given-back")!;
      assert.equal(await store.release(Q, { id: released.id, token: released.lease!.token, now: T0 + 6 }), true);
      await store.setPaused("other", { paused: true, now: T0 });
      await store.putRecord("ns", "k", { v: 1 });
      const before = await Promise.all(claimed.map((j) => store.get(Q, j.id)));

      store = await target.reopen!(store);

      assert.deepEqual(
        (await store.list(Q, "waiting", { offset: 0, limit: 10 })).map((j) => j.payload),
        ["given-back", "low"],
        "waiting jobs keep their claim order",
      );
      assert.deepEqual((await store.list(Q, "delayed", { offset: 0, limit: 10 })).map((j) => j.payload), ["later"]);
      for (const job of before) assert.deepEqual(await store.get(Q, job!.id), job, `job ${job!.payload} as it was`);
      assert.equal(await store.isPaused("other"), true);
      assert.deepEqual(await store.getRecord("ns", "k"), { v: 1 });
      const [again] = await store.enqueue(Q, { jobs: [newJob({ dedupKey: "held" })], now: T0 + 10 });
      assert.equal(again!.created, false, "the active job still holds its dedup key");
      const next = (await store.claim(Q, { workerId: "w2", limit: 1, leaseMs: 1_000, now: T0 + 10 })).jobs[0];
      assert.equal(next?.payload, "given-back", "claiming resumes where it was");
    } finally {
      await store.close();
    }
  });
}
