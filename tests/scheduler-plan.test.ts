// Tick planning as a table: a schedule's timing, what is dealt with, and the time, in; the ticks
// to fire (made up, on time) and the ones missed, out. No store, no clock.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firstFloor, lastEligibleTick, MAX_TICKS_PER_PLAN, type PlanInput, planTicks } from "../src/scheduler/plan.ts";
import { cronTiming, intervalTiming, type Timing } from "../src/scheduler/timing.ts";

const S = 1_000;
const M = 60 * S;
const T0 = Date.UTC(2026, 0, 1);
const perSecond = intervalTiming(S);
const perMinute = cronTiming("* * * * *", null);
const NONE = { mode: "none", max: 1 } as const;
const LATEST = { mode: "latest", max: 1 } as const;
const all = (max: number) => ({ mode: "all", max }) as const;

interface Row {
  readonly name: string;
  readonly timing: Timing;
  /** Times in units of `unit` after T0. */
  readonly unit: number;
  readonly after: number;
  readonly now: number;
  readonly graceMs: number;
  readonly lastEligible?: number;
  readonly catchUp: PlanInput["catchUp"];
  readonly madeUp: number[];
  readonly onTime: number[];
  /** Ticks after `after` up to the plan's end that neither fire nor are made up. */
  readonly missed: number[];
}

const rows: Row[] = [
  { name: "on time: the ticks since the last dealt with", timing: perSecond, unit: S, after: 3, now: 5, graceMs: 2 * S, catchUp: NONE, madeUp: [], onTime: [4, 5], missed: [] },
  { name: "nothing due between ticks", timing: perSecond, unit: S, after: 5, now: 5.5, graceMs: 2 * S, catchUp: NONE, madeUp: [], onTime: [], missed: [] },
  { name: "a tick exactly graceMs old is on time", timing: perSecond, unit: S, after: 7, now: 10, graceMs: 2 * S, catchUp: NONE, madeUp: [], onTime: [8, 9, 10], missed: [] },
  { name: "a millisecond older is missed", timing: perSecond, unit: S, after: 7, now: 10, graceMs: 2 * S - 1, catchUp: NONE, madeUp: [], onTime: [9, 10], missed: [8] },
  { name: "downtime, catch-up none: missed ticks are passed over", timing: perSecond, unit: S, after: 1, now: 10, graceMs: 2 * S, catchUp: NONE, madeUp: [], onTime: [8, 9, 10], missed: [2, 3, 4, 5, 6, 7] },
  { name: "catch-up latest makes up nothing while a tick is on time", timing: perSecond, unit: S, after: 1, now: 10, graceMs: 2 * S, catchUp: LATEST, madeUp: [], onTime: [8, 9, 10], missed: [2, 3, 4, 5, 6, 7] },
  { name: "catch-up latest: the newest missed tick when none is on time", timing: perMinute, unit: M, after: 1, now: 11.5, graceMs: 2 * S, catchUp: LATEST, madeUp: [11], onTime: [], missed: [2, 3, 4, 5, 6, 7, 8, 9, 10] },
  { name: "catch-up all: the newest n missed ticks, oldest first", timing: perMinute, unit: M, after: 1, now: 11.5, graceMs: 2 * S, catchUp: all(3), madeUp: [9, 10, 11], onTime: [], missed: [2, 3, 4, 5, 6, 7, 8] },
  { name: "catch-up all never reaches back past what is dealt with", timing: perMinute, unit: M, after: 9, now: 11.5, graceMs: 2 * S, catchUp: all(5), madeUp: [10, 11], onTime: [], missed: [] },
  { name: "made-up ticks come before on-time ones", timing: perSecond, unit: S, after: 1, now: 10, graceMs: 2 * S, catchUp: all(2), madeUp: [6, 7], onTime: [8, 9, 10], missed: [2, 3, 4, 5] },
  { name: "endAt / maxRuns: nothing after the last eligible tick", timing: perSecond, unit: S, after: 2, now: 6, graceMs: 10 * S, lastEligible: 4, catchUp: NONE, madeUp: [], onTime: [3, 4], missed: [] },
  { name: "the last eligible tick passed while down: missed like any other", timing: perSecond, unit: S, after: 1, now: 10, graceMs: 2 * S, lastEligible: 5, catchUp: NONE, madeUp: [], onTime: [], missed: [2, 3, 4, 5] },
  { name: "…or made up by the rule", timing: perSecond, unit: S, after: 1, now: 10, graceMs: 2 * S, lastEligible: 5, catchUp: all(1), madeUp: [5], onTime: [], missed: [2, 3, 4] },
  { name: "all dealt with past the last eligible tick: nothing", timing: perSecond, unit: S, after: 5, now: 10, graceMs: 2 * S, lastEligible: 5, catchUp: all(3), madeUp: [], onTime: [], missed: [] },
];

/** Every tick in (from, to], from the timing itself. */
function ticksBetween(timing: Timing, from: number, to: number): number[] {
  const ticks: number[] = [];
  for (let tick = timing.next(from); tick !== null && tick <= to; tick = timing.next(tick)) ticks.push(tick);
  return ticks;
}

describe("planTicks", () => {
  for (const row of rows) {
    test(row.name, () => {
      const at = (units: number) => T0 + units * row.unit;
      const back = (ms: number) => (ms - T0) / row.unit;
      const after = at(row.after);
      const plan = planTicks({
        timing: row.timing,
        after,
        now: at(row.now),
        graceMs: row.graceMs,
        lastEligible: row.lastEligible === undefined ? Infinity : at(row.lastEligible),
        catchUp: row.catchUp,
      });
      const fired = new Set([...plan.madeUp, ...plan.onTime]);
      const missed = plan.through === null ? [] : ticksBetween(row.timing, after, plan.through).filter((tick) => !fired.has(tick));
      assert.deepEqual(
        { madeUp: plan.madeUp.map(back), onTime: plan.onTime.map(back), missed: missed.map(back) },
        { madeUp: row.madeUp, onTime: row.onTime, missed: row.missed },
      );
      const everything = [...row.madeUp, ...row.onTime, ...row.missed];
      assert.equal(plan.through === null ? null : back(plan.through), everything.length ? Math.max(...everything) : null, "through: the newest tick dealt with");
    });
  }

  test("more on-time ticks than one plan holds: the rest are left for the next, not passed over", () => {
    const plan = planTicks({ timing: intervalTiming(1), after: T0, now: T0 + 60 * S, graceMs: 60 * S, lastEligible: Infinity, catchUp: NONE });
    assert.equal(plan.onTime.length, MAX_TICKS_PER_PLAN);
    assert.equal(plan.through, T0 + MAX_TICKS_PER_PLAN);
  });
});

describe("which ticks a schedule owns", () => {
  const record = (fields: { startAt?: number; endAt?: number; maxRuns?: number }) => ({
    createdAt: T0 + 500,
    startAt: fields.startAt ?? null,
    endAt: fields.endAt ?? null,
    maxRuns: fields.maxRuns ?? null,
  });
  test("from startAt inclusive, else strictly after creation", () => {
    assert.equal(perSecond.next(firstFloor(record({ startAt: T0 + 3 * S }))), T0 + 3 * S);
    assert.equal(perSecond.next(firstFloor(record({}))), T0 + S);
  });
  test("up to endAt, or the maxRuns-th tick if that comes first", () => {
    assert.equal(lastEligibleTick(perSecond, record({})), Infinity);
    assert.equal(lastEligibleTick(perSecond, record({ endAt: T0 + 5 * S })), T0 + 5 * S);
    assert.equal(lastEligibleTick(perSecond, record({ maxRuns: 3 })), T0 + 3 * S);
    assert.equal(lastEligibleTick(perSecond, record({ maxRuns: 3, startAt: T0 + 10 * S })), T0 + 12 * S);
    assert.equal(lastEligibleTick(perSecond, record({ maxRuns: 3, endAt: T0 + 2 * S })), T0 + 2 * S);
    assert.equal(lastEligibleTick(perSecond, record({ maxRuns: 1e9, endAt: T0 + 2 * S })), T0 + 2 * S, "a bound that comes first ends the count early");
  });
});
