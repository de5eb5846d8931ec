// The rows of the transition table: start state × outcome × settings → end state, events, and
// what retention keeps. Each names the rule of src/core/transitions.ts it checks.
import assert from "node:assert/strict";
import { Q, T0 } from "./target.ts";
import type { TransitionCase } from "./transition-table.ts";

const LEASE_MS = 1_000;

export const TRANSITIONS: readonly TransitionCase[] = [
  {
    name: "waiting × claim → active",
    run: (r) => r.claim("a"),
    states: { a: "active" },
    events: { a: ["enqueued", "active"] },
    check: ({ a }) => assert.equal(a!.startedAt, T0),
  },
  {
    name: "delayed, not due × claim → stays delayed",
    run: async (r) => {
      await r.add("a", { runAt: T0 + 5_000 });
      assert.equal(
        (await r.store.claim(Q, { workerId: "w", limit: 5, leaseMs: LEASE_MS, now: T0 + 4_999 })).jobs.length,
        0,
      );
    },
    states: { a: "delayed" },
    events: { a: ["enqueued"] },
  },
  {
    name: "delayed, due × claim → active",
    run: async (r) => {
      await r.add("a", { runAt: T0 + 5_000 });
      await r.claim("a", T0 + 5_000);
    },
    states: { a: "active" },
    events: { a: ["enqueued", "active"] },
  },
  {
    name: "active × completed → completed",
    run: async (r) => r.finish("a", { kind: "completed" }, T0 + 7),
    states: { a: "completed" },
    events: { a: ["enqueued", "active", "completed"] },
    check: ({ a }) => {
      assert.equal(a!.attemptsMade, 1);
      assert.equal(a!.result, "ok");
      assert.equal(a!.finishedAt, T0 + 7);
      assert.equal(a!.lease, null);
    },
  },
  {
    name: "active × failed with a later retry → delayed",
    run: (r) => r.finish("a", { kind: "failed", retryAt: T0 + 1_000 }),
    states: { a: "delayed" },
    events: { a: ["enqueued", "active", "failed", "retrying"] },
    check: ({ a }) => {
      assert.equal(a!.attemptsMade, 1);
      assert.equal(a!.runAt, T0 + 1_000);
      assert.equal(a!.lastError?.message, "boom");
    },
  },
  {
    name: "active × failed with a retry due now → waiting",
    run: (r) => r.finish("a", { kind: "failed", retryAt: T0 }),
    states: { a: "waiting" },
    events: { a: ["enqueued", "active", "failed", "retrying"] },
  },
  {
    name: "active × final failure, dead-lettering → dead",
    run: (r) => r.finish("a", { kind: "failed", retryAt: null }),
    states: { a: "dead" },
    events: { a: ["enqueued", "active", "failed", "dead"] },
    check: ({ a }) => assert.deepEqual([a!.dead?.reason, a!.dead?.attempts], ["attempts-exhausted", 1]),
  },
  {
    name: "active × final failure, no dead-lettering → failed",
    run: async (r) => {
      await r.add("a", { deadLetter: false });
      await r.finish("a", { kind: "failed", retryAt: null });
    },
    states: { a: "failed" },
    events: { a: ["enqueued", "active", "failed"] },
    check: ({ a }) => assert.equal(a!.dead, null),
  },
  {
    name: "active × unrecoverable failure → dead, saying so",
    run: (r) => r.finish("a", { kind: "failed", retryAt: null, reason: "unrecoverable" }),
    states: { a: "dead" },
    check: ({ a }) => assert.equal(a!.dead?.reason, "unrecoverable"),
  },
  {
    name: "active × lease expired, stalls within maxStalls → waiting",
    run: async (r) => {
      await r.claim("a");
      const result = await r.store.recoverStalled(Q, { now: T0 + LEASE_MS, maxStalls: 1 });
      assert.deepEqual([result.requeued.length, result.failed.length], [1, 0]);
    },
    states: { a: "waiting" },
    events: { a: ["enqueued", "active", "stalled"] },
    check: ({ a }) => assert.deepEqual([a!.stalls, a!.attemptsMade, a!.lease], [1, 0, null]),
  },
  {
    name: "active × lease still valid × stall check → stays active",
    run: async (r) => {
      await r.claim("a");
      await r.store.recoverStalled(Q, { now: T0 + LEASE_MS - 1, maxStalls: 0 });
    },
    states: { a: "active" },
  },
  {
    name: "active × stalled past maxStalls → dead, reason stalled",
    run: async (r) => {
      await r.claim("a");
      await r.store.recoverStalled(Q, { now: T0 + LEASE_MS, maxStalls: 0 });
    },
    states: { a: "dead" },
    events: { a: ["enqueued", "active", "stalled", "dead"] },
    check: ({ a }) =>
      assert.deepEqual([a!.dead?.reason, a!.attemptsMade, a!.lastError?.code], ["stalled", 1, "STALLED"]),
  },
  {
    name: "active × stalled past maxStalls, no dead-lettering → failed",
    run: async (r) => {
      await r.add("a", { deadLetter: false });
      await r.claim("a");
      await r.store.recoverStalled(Q, { now: T0 + LEASE_MS, maxStalls: 0 });
    },
    states: { a: "failed" },
    events: { a: ["enqueued", "active", "stalled"] },
  },
  {
    name: "active × released → waiting, no attempt spent",
    run: async (r) => {
      const job = await r.claim("a");
      assert.equal(await r.store.release(Q, { id: job.id, token: job.lease!.token, now: T0 }), true);
    },
    states: { a: "waiting" },
    events: { a: ["enqueued", "active", "enqueued"] },
    check: ({ a }) => assert.deepEqual([a!.attemptsMade, a!.lease], [0, null]),
  },
  {
    name: "active × released until later → delayed",
    run: async (r) => {
      const job = await r.claim("a");
      await r.store.release(Q, { id: job.id, token: job.lease!.token, now: T0, runAt: T0 + 500 });
    },
    states: { a: "delayed" },
    check: ({ a }) => assert.equal(a!.runAt, T0 + 500),
  },
  {
    name: "waiting × cancel → cancelled, dedup key free",
    run: async (r) => {
      await r.add("a", { dedupKey: "k" });
      assert.deepEqual(await r.store.cancel(Q, { id: r.jobs.get("a")!.id, now: T0, by: "ops" }), {
        status: "cancelled",
        previous: "waiting",
      });
      await r.add("b", { dedupKey: "k" });
    },
    states: { a: "cancelled", b: "waiting" },
    events: { a: ["enqueued", "cancelled"], b: ["enqueued"] },
    check: ({ a, b }) => {
      assert.notEqual(a!.id, b!.id, "the key was free again");
      assert.deepEqual(a!.changedBy, { action: "cancel", by: "ops", at: T0 });
    },
  },
  {
    name: "active × cancel → cancelled; the old lease can no longer finish it",
    run: async (r) => {
      await r.claim("a");
      await r.store.cancel(Q, { id: r.jobs.get("a")!.id, now: T0 });
      assert.equal(await r.finish("a", { kind: "completed" }), null);
    },
    states: { a: "cancelled" },
    events: { a: ["enqueued", "active", "cancelled"] },
  },
  {
    name: "completed × cancel → refused, says it finished",
    run: async (r) => {
      await r.finish("a", { kind: "completed" });
      assert.deepEqual(await r.store.cancel(Q, { id: r.jobs.get("a")!.id, now: T0 }), { status: "finished", state: "completed" });
    },
    states: { a: "completed" },
  },
  {
    name: "dead × retry → waiting with fresh attempts",
    run: async (r) => {
      await r.finish("a", { kind: "failed", retryAt: null });
      await r.mark();
      assert.equal((await r.store.retry(Q, { id: r.jobs.get("a")!.id, now: T0 + 9, by: "ops" })).status, "retried");
    },
    states: { a: "waiting" },
    events: { a: ["enqueued"] },
    check: ({ a }) => {
      assert.deepEqual([a!.attemptsMade, a!.dead, a!.finishedAt, a!.runAt], [0, null, null, T0 + 9]);
      assert.deepEqual(a!.changedBy, { action: "retry", by: "ops", at: T0 + 9 });
    },
  },
  {
    name: "completed × retry → refused",
    run: async (r) => {
      await r.finish("a", { kind: "completed" });
      assert.deepEqual(await r.store.retry(Q, { id: r.jobs.get("a")!.id, now: T0 }), {
        status: "not-retryable",
        state: "completed",
      });
    },
    states: { a: "completed" },
  },
  {
    name: "cancelled × retry while another job holds its dedup key → refused, both kept",
    run: async (r) => {
      await r.add("a", { dedupKey: "k" });
      await r.store.cancel(Q, { id: r.jobs.get("a")!.id, now: T0 });
      await r.add("b", { dedupKey: "k" });
      await r.mark();
      assert.deepEqual(await r.store.retry(Q, { id: r.jobs.get("a")!.id, now: T0 }), { status: "dedup-taken" });
    },
    states: { a: "cancelled", b: "waiting" },
    events: { a: [], b: [] },
  },
  {
    name: "completed × remove → gone, `removed` published",
    run: async (r) => {
      await r.finish("a", { kind: "completed" });
      await r.mark();
      assert.deepEqual(await r.store.remove(Q, { id: r.jobs.get("a")!.id, now: T0 }), { status: "removed" });
    },
    states: { a: null },
    events: { a: ["removed"] },
  },
  {
    name: "active × remove → refused",
    run: async (r) => {
      await r.claim("a");
      await r.mark();
      assert.deepEqual(await r.store.remove(Q, { id: r.jobs.get("a")!.id, now: T0 }), { status: "active" });
    },
    states: { a: "active" },
    events: { a: [] },
  },
  {
    name: "completed with removeOnComplete { count: 0 } → gone at once",
    run: async (r) => {
      await r.add("a", { removeOnComplete: { count: 0, ageMs: null } });
      await r.finish("a", { kind: "completed" });
    },
    states: { a: null },
  },
  {
    name: "failed with removeOnFail { ageMs } → older failures trimmed when it enters",
    run: async (r) => {
      await r.add("old", { deadLetter: false });
      await r.finish("old", { kind: "failed", retryAt: null }, T0);
      await r.add("new", { deadLetter: false, removeOnFail: { count: null, ageMs: 100 } });
      await r.finish("new", { kind: "failed", retryAt: null }, T0 + 101);
    },
    states: { old: null, new: "failed" },
  },
  {
    name: "mixed retention in one batch: each rule trims the state as its job found it",
    run: async (r) => {
      const keep = { count: null, ageMs: null };
      for (const label of ["p1", "p2"]) {
        await r.add(label, { removeOnComplete: keep });
        await r.finish(label, { kind: "completed" }, T0);
      }
      await r.add("x", { removeOnComplete: { count: 1, ageMs: null } });
      await r.add("y", { removeOnComplete: keep });
      const claimed = (await r.store.claim(Q, { workerId: "w", limit: 2, leaseMs: LEASE_MS, now: T0 + 1 })).jobs;
      const byId = new Map(claimed.map((job) => [job.id, job]));
      const [x, y] = [byId.get(r.jobs.get("x")!.id)!, byId.get(r.jobs.get("y")!.id)!];
      await r.store.finish(Q, {
        now: T0 + 2,
        outcomes: [x, y].map((job) => ({
          id: job.id,
          token: job.lease!.token,
          kind: "completed" as const,
          result: null,
        })),
      });
    },
    states: { p1: null, p2: null, x: "completed", y: "completed" },
  },
];

