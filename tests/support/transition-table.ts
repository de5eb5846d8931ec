// The transition table: start state × outcome × settings → end state, events, what retention
// keeps. The same rows run on every store, so a store that drifts from the state machine in
// src/core/transitions.ts fails here, row by row.
import assert from "node:assert/strict";
import type { ConveyorEventData, Job, JobState, NewJob, QueueStore } from "../../mod.ts";
import { newJob } from "./store-conformance.ts";

export const T0 = 1_700_000_000_000;
export const Q = "table";
const LEASE_MS = 1_000;
const ERROR = { name: "Error", message: "boom" };

/** A store, the events it published, and the jobs a row made, by label. */
export interface Row {
  readonly store: QueueStore;
  readonly jobs: Map<string, Job>;
  add(label: string, overrides?: Partial<NewJob>, now?: number): Promise<Job>;
  claim(label: string, now?: number): Promise<Job>;
  finish(label: string, outcome: { kind: "completed" } | { kind: "failed"; retryAt: number | null; reason?: "unrecoverable" }, now?: number): Promise<JobState | null>;
  /**
   * Events count from here on: what the row's setup caused is left out. Waits for a marker
   * published after them, so it relies on each queue's events arriving in order.
   */
  mark(): Promise<void>;
}

export interface TransitionCase {
  readonly name: string;
  /** Brings the row's jobs to the start state, then makes the transition under test. */
  readonly run: (row: Row) => Promise<unknown>;
  /** End state per label; `null` when the job is gone. */
  readonly states: Readonly<Record<string, JobState | null>>;
  /** Event types per label, from the transition under test on (after `mark`, when it is called). */
  readonly events?: Readonly<Record<string, readonly string[]>>;
  /** What the transition call itself answers. */
  readonly answer?: unknown;
  /** Further checks on the jobs as stored. */
  readonly check?: (jobs: Readonly<Record<string, Job | null>>) => void;
}

export async function finishOne(store: QueueStore, job: Job, outcome: Parameters<Row["finish"]>[1], now: number) {
  const { finished } = await store.finish(Q, {
    now,
    outcomes: [outcome.kind === "completed"
      ? { id: job.id, token: job.lease!.token, kind: "completed", result: "ok" }
      : { id: job.id, token: job.lease!.token, kind: "failed", error: ERROR, retryAt: outcome.retryAt, reason: outcome.reason }],
  });
  return finished[0]!;
}

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
      assert.equal((await r.store.claim(Q, { workerId: "w", limit: 5, leaseMs: LEASE_MS, now: T0 + 4_999 })).jobs.length, 0);
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
      const result = await r.store.recoverStalled(Q, T0 + LEASE_MS, 1);
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
      await r.store.recoverStalled(Q, T0 + LEASE_MS - 1, 0);
    },
    states: { a: "active" },
  },
  {
    name: "active × stalled past maxStalls → dead, reason stalled",
    run: async (r) => {
      await r.claim("a");
      await r.store.recoverStalled(Q, T0 + LEASE_MS, 0);
    },
    states: { a: "dead" },
    events: { a: ["enqueued", "active", "stalled", "dead"] },
    check: ({ a }) => assert.deepEqual([a!.dead?.reason, a!.attemptsMade, a!.lastError?.code], ["stalled", 1, "STALLED"]),
  },
  {
    name: "active × stalled past maxStalls, no dead-lettering → failed",
    run: async (r) => {
      await r.add("a", { deadLetter: false });
      await r.claim("a");
      await r.store.recoverStalled(Q, T0 + LEASE_MS, 0);
    },
    states: { a: "failed" },
    events: { a: ["enqueued", "active", "stalled"] },
  },
  {
    name: "active × released → waiting, no attempt spent",
    run: async (r) => {
      const job = await r.claim("a");
      assert.equal(await r.store.release(Q, job.id, job.lease!.token, T0), true);
    },
    states: { a: "waiting" },
    events: { a: ["enqueued", "active", "enqueued"] },
    check: ({ a }) => assert.deepEqual([a!.attemptsMade, a!.lease], [0, null]),
  },
  {
    name: "active × released until later → delayed",
    run: async (r) => {
      const job = await r.claim("a");
      await r.store.release(Q, job.id, job.lease!.token, T0, T0 + 500);
    },
    states: { a: "delayed" },
    check: ({ a }) => assert.equal(a!.runAt, T0 + 500),
  },
  {
    name: "waiting × cancel → cancelled, dedup key free",
    run: async (r) => {
      await r.add("a", { dedupKey: "k" });
      assert.deepEqual(await r.store.cancel(Q, r.jobs.get("a")!.id, T0, "ops"), { status: "cancelled", previous: "waiting" });
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
      await r.store.cancel(Q, r.jobs.get("a")!.id, T0);
      assert.equal(await r.finish("a", { kind: "completed" }), null);
    },
    states: { a: "cancelled" },
    events: { a: ["enqueued", "active", "cancelled"] },
  },
  {
    name: "completed × cancel → refused, says it finished",
    run: async (r) => {
      await r.finish("a", { kind: "completed" });
      assert.deepEqual(await r.store.cancel(Q, r.jobs.get("a")!.id, T0), { status: "finished", state: "completed" });
    },
    states: { a: "completed" },
  },
  {
    name: "dead × retry → waiting with fresh attempts",
    run: async (r) => {
      await r.finish("a", { kind: "failed", retryAt: null });
      await r.mark();
      assert.ok(await r.store.retry(Q, r.jobs.get("a")!.id, T0 + 9, "ops"));
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
      assert.equal(await r.store.retry(Q, r.jobs.get("a")!.id, T0), null);
    },
    states: { a: "completed" },
  },
  {
    name: "cancelled × retry while another job holds its dedup key → refused, both kept",
    run: async (r) => {
      await r.add("a", { dedupKey: "k" });
      await r.store.cancel(Q, r.jobs.get("a")!.id, T0);
      await r.add("b", { dedupKey: "k" });
      await r.mark();
      assert.equal(await r.store.retry(Q, r.jobs.get("a")!.id, T0), null);
    },
    states: { a: "cancelled", b: "waiting" },
    events: { a: [], b: [] },
  },
  {
    name: "completed × remove → gone, `removed` published",
    run: async (r) => {
      await r.finish("a", { kind: "completed" });
      await r.mark();
      assert.equal(await r.store.remove(Q, r.jobs.get("a")!.id, T0), true);
    },
    states: { a: null },
    events: { a: ["removed"] },
  },
  {
    name: "active × remove → refused",
    run: async (r) => {
      await r.claim("a");
      await r.mark();
      assert.equal(await r.store.remove(Q, r.jobs.get("a")!.id, T0), false);
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
        outcomes: [x, y].map((job) => ({ id: job.id, token: job.lease!.token, kind: "completed" as const, result: null })),
      });
    },
    states: { p1: null, p2: null, x: "completed", y: "completed" },
  },
];

/** Runs one row on a fresh store; the caller closes the store. */
export async function runRow(store: QueueStore, row: TransitionCase, settle: (check: () => boolean) => Promise<void>): Promise<void> {
  const events: ConveyorEventData[] = [];
  const subscription = store.subscribe(Q, (event) => events.push(event));
  await subscription.ready;
  const jobs = new Map<string, Job>();
  let marked = 0;
  const r: Row = {
    store,
    jobs,
    async add(label, overrides = {}, now = T0) {
      const [result] = await store.enqueue(Q, [newJob(overrides)], now);
      jobs.set(label, result!.job);
      return result!.job;
    },
    async claim(label, now = T0) {
      if (!jobs.has(label)) await r.add(label);
      const { jobs: claimed } = await store.claim(Q, { workerId: "w", limit: 1, leaseMs: LEASE_MS, now });
      assert.equal(claimed[0]?.id, jobs.get(label)!.id, `claimed ${label}`);
      jobs.set(label, claimed[0]!);
      return claimed[0]!;
    },
    async finish(label, outcome, now = T0) {
      const held = jobs.get(label)?.state === "active" ? jobs.get(label)! : await r.claim(label, now);
      return await finishOne(store, held, outcome, now);
    },
    async mark() {
      const at = T0 + Math.random();
      store.publish(Q, { type: "drained", queue: Q, at });
      await settle(() => events.some((e) => e.type === "drained" && e.at === at));
      marked = events.length;
    },
  };
  try {
    await row.run(r);
    const stored: Record<string, Job | null> = {};
    for (const [label, job] of jobs) stored[label] = await store.get(Q, job.id);
    for (const [label, state] of Object.entries(row.states)) {
      assert.equal(stored[label]?.state ?? null, state, `${label} ends ${state ?? "gone"}`);
    }
    if (row.events) {
      const expected = row.events;
      const want = Object.values(expected).reduce((n, types) => n + types.length, 0);
      const since = () => events.slice(marked).filter((e) => "jobId" in e);
      await settle(() => since().length >= want);
      for (const [label, types] of Object.entries(expected)) {
        const id = jobs.get(label)!.id;
        const seen = since().filter((e) => "jobId" in e && e.jobId === id).map((e) => e.type);
        assert.deepEqual(seen, types, `events of ${label}`);
      }
    }
    row.check?.(stored);
  } finally {
    subscription.close();
  }
}
