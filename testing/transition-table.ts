// The transition table: start state × outcome × settings → end state, events, what retention
// keeps. The same rows run on every store, so a store that drifts from the state machine in
// src/core/transitions.ts fails here, row by row.
import assert from "node:assert/strict";
import type { ConveyorEventData, Job, JobState, NewJob, QueueStore } from "../mod.ts";
import { newJob, Q, T0, waitFor } from "./target.ts";

const LEASE_MS = 1_000;
const ERROR = { name: "Error", message: "boom" };

/** A store, the events it published, and the jobs a row made, by label. */
export interface Row {
  readonly store: QueueStore;
  readonly jobs: Map<string, Job>;
  add(label: string, overrides?: Partial<NewJob>, now?: number): Promise<Job>;
  claim(label: string, now?: number): Promise<Job>;
  finish(
    label: string,
    outcome: { kind: "completed" } | { kind: "failed"; retryAt: number | null; reason?: "unrecoverable" },
    now?: number,
  ): Promise<JobState | null>;
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
    outcomes: [
      outcome.kind === "completed" ? { id: job.id, token: job.lease!.token, kind: "completed", result: "ok" } : {
        id: job.id,
        token: job.lease!.token,
        kind: "failed",
        error: ERROR,
        retryAt: outcome.retryAt,
        reason: outcome.reason,
      },
    ],
  });
  return finished[0]!;
}

/** Runs one row on a fresh store; the caller closes the store. */
export async function runRow(store: QueueStore, row: TransitionCase): Promise<void> {
  const settle = (check: () => boolean) => waitFor(check, "the row's events");
  const events: ConveyorEventData[] = [];
  const subscription = store.subscribe(Q, (event) => events.push(event));
  await subscription.ready;
  const jobs = new Map<string, Job>();
  let marked = 0;
  const r: Row = {
    store,
    jobs,
    async add(label, overrides = {}, now = T0) {
      const [result] = await store.enqueue(Q, { jobs: [newJob(overrides)], now });
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
