// Pending ticks as a table: the marks and the time in; which ticks are overdue (to be enqueued by
// whoever sees them) and when to look again, out. No store, no clock.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clearPending, markPending, type PendingTick, planRecovery } from "../src/scheduler/pending.ts";

const S = 1_000;
const TIMEOUT = 5 * S;
/** A mark: tick and claim time, in seconds. */
const mark = (tick: number, claimedAt: number): PendingTick => ({ tick: tick * S, claimedAt: claimedAt * S });

interface Row {
  readonly name: string;
  readonly pending: PendingTick[];
  /** Seconds. */
  readonly now: number;
  /** Ticks (seconds) overdue, oldest first. */
  readonly overdue: number[];
  /** Seconds, or null. */
  readonly recheckAt: number | null;
}

const rows: Row[] = [
  { name: "no mark: nothing to do, nothing to wait for", pending: [], now: 10, overdue: [], recheckAt: null },
  { name: "a fresh mark (its node is enqueueing): look again when it falls overdue", pending: [mark(10, 10)], now: 11, overdue: [], recheckAt: 15 },
  { name: "a millisecond short of the timeout: not yet", pending: [mark(10, 10)], now: 14.999, overdue: [], recheckAt: 15 },
  { name: "exactly the timeout old: overdue, and looked at again a timeout later if still there", pending: [mark(10, 10)], now: 15, overdue: [10], recheckAt: 20 },
  { name: "several overdue: oldest tick first, whatever the order stored", pending: [mark(12, 12), mark(11, 11)], now: 30, overdue: [11, 12], recheckAt: 35 },
  { name: "one overdue, one fresh: the fresh one's deadline comes first", pending: [mark(1, 1), mark(20, 20)], now: 21, overdue: [1], recheckAt: 25 },
  { name: "claimed by a node whose clock runs ahead: it waits its whole timeout from its claim time", pending: [mark(10, 12)], now: 10, overdue: [], recheckAt: 17 },
  { name: "a mark taken over by a recovering node starts a new timeout", pending: [mark(10, 40)], now: 41, overdue: [], recheckAt: 45 },
];

describe("planRecovery", () => {
  for (const row of rows) {
    test(row.name, () => {
      const plan = planRecovery(row.pending, row.now * S, TIMEOUT);
      assert.deepEqual(plan.overdue.map((m) => m.tick / S), row.overdue);
      assert.equal(plan.recheckAt, row.recheckAt === null ? null : row.recheckAt * S);
    });
  }
});

describe("markPending / clearPending", () => {
  test("a claim adds its tick; a take-over replaces the tick's mark; marks stay in tick order", () => {
    const one = markPending([], 2 * S, 2 * S);
    assert.deepEqual(one, [mark(2, 2)]);
    const two = markPending(one, 1 * S, 3 * S);
    assert.deepEqual(two, [mark(1, 3), mark(2, 2)]);
    assert.deepEqual(markPending(two, 2 * S, 9 * S), [mark(1, 3), mark(2, 9)]);
    assert.deepEqual(one, [mark(2, 2)], "the marks passed in are not changed");
  });

  test("clearing removes the tick's mark, and returns the very same array when there is none", () => {
    const pending = [mark(1, 1), mark(2, 2)];
    assert.deepEqual(clearPending(pending, 1 * S), [mark(2, 2)]);
    assert.equal(clearPending(pending, 3 * S), pending, "unchanged: no write needed");
    assert.deepEqual(clearPending([mark(1, 1)], 1 * S), []);
  });
});
