// What the basic cases share: a fresh store with its events, and one-line transitions.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConveyorEventData, ErrorInfo, QueueStore } from "../mod.ts";
import { Q, type StoreUnderTest, T0, waitFor } from "./target.ts";

export const LEASE = { workerId: "w1", leaseMs: 1_000 };

export async function withStore(
  target: StoreUnderTest,
  body: (store: QueueStore, events: ConveyorEventData[]) => Promise<void>,
) {
  const store = await target.create();
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
export const eventually = (check: () => boolean) => waitFor(check, "the expected events", 3_000);

export const count = (events: ConveyorEventData[], type: string) => events.filter((e) => e.type === type).length;

export async function complete(store: QueueStore, id: string, token: string, result: unknown, now: number) {
  const { finished } = await store.finish(Q, { outcomes: [{ id, token, kind: "completed", result }], now });
  return finished[0] ? await store.get(Q, id) : null;
}

export async function fail(
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

export async function claimOne(store: QueueStore, now = T0) {
  const { jobs } = await store.claim(Q, { ...LEASE, limit: 1, now });
  assert.equal(jobs.length, 1, "expected one job to claim");
  return jobs[0]!;
}

/** A test with a fresh store of the target and the events it publishes. */
export function caseOf(target: StoreUnderTest) {
  return (name: string, body: (store: QueueStore, events: ConveyorEventData[]) => Promise<void>) =>
    test(name, () => withStore(target, body));
}
