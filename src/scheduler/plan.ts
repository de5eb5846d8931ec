import type { ScheduleRecord } from "./schedule-options.ts";
import type { Timing } from "./timing.ts";

/**
 * Which ticks of a schedule to fire at one evaluation: a pure function of the schedule's timing,
 * what is already dealt with, and the time, so every node plans alike and the rules (grace,
 * catch-up, endAt, maxRuns) are tested as a table.
 */
export interface PlanInput {
  readonly timing: Timing;
  /** Ticks at or before this are not to fire: dealt with already, or before the schedule starts. */
  readonly after: number;
  readonly now: number;
  /** A tick up to this late is on time; older ones are missed. */
  readonly graceMs: number;
  /** The last tick the schedule may fire (by endAt and maxRuns): see `lastEligibleTick`. */
  readonly lastEligible: number;
  readonly catchUp: ScheduleRecord["catchUp"];
}

export interface TickPlan {
  /** Missed ticks (older than the grace) the catch-up rule makes up, oldest first. Fired first. */
  readonly madeUp: readonly number[];
  /** Ticks within the grace, oldest first. */
  readonly onTime: readonly number[];
  /**
   * The newest tick this plan deals with: every tick after `after` up to it is fired or passed
   * over as missed. Null when no tick is due.
   */
  readonly through: number | null;
}

/** More on-time ticks than this (a 1 ms interval with a minute's grace) are left to the next evaluation. */
export const MAX_TICKS_PER_PLAN = 10_000;

const NOTHING: TickPlan = Object.freeze({ madeUp: [], onTime: [], through: null });

export function planTicks({ timing, after, now, graceMs, lastEligible, catchUp }: PlanInput): TickPlan {
  const upTo = Math.min(now, lastEligible);
  if (!(upTo > after)) return NOTHING;
  // Ticks are whole milliseconds: one at `now - graceMs` is still on time, one a millisecond older is missed.
  const missedUpTo = Math.min(upTo, now - graceMs - 1);
  const onTime: number[] = [];
  for (let tick = timing.next(Math.max(after, missedUpTo)); tick !== null && tick <= upTo; tick = timing.next(tick)) {
    onTime.push(tick);
    if (onTime.length === MAX_TICKS_PER_PLAN) return { madeUp: [], onTime, through: tick };
  }
  let madeUp: number[] = [];
  if (missedUpTo > after) {
    const wanted = catchUp.mode === "all" ? catchUp.max : catchUp.mode === "latest" && onTime.length === 0 ? 1 : 0;
    if (wanted > 0) madeUp = timing.latest(missedUpTo, wanted).filter((tick) => tick > after);
  }
  const newest = timing.latest(upTo, 1)[0];
  const through = newest !== undefined && newest > after ? newest : null;
  return { madeUp, onTime, through };
}

/** Ticks after this instant are the schedule's: from `startAt` on (inclusive), else strictly after it was created. */
export function firstFloor(record: Pick<ScheduleRecord, "startAt" | "createdAt">): number {
  return record.startAt !== null ? record.startAt - 1 : record.createdAt;
}

/**
 * The last tick a schedule may fire: its `endAt`, or its `maxRuns`-th tick from the start if
 * that comes first. Counted from the definition, so every node agrees which ticks are in,
 * whoever fires them.
 */
export function lastEligibleTick(timing: Timing, record: Pick<ScheduleRecord, "startAt" | "createdAt" | "endAt" | "maxRuns">): number {
  const endAt = record.endAt ?? Infinity;
  if (record.maxRuns === null) return endAt;
  let tick: number | null = firstFloor(record);
  for (let i = 0; i < record.maxRuns && tick !== null && tick <= endAt; i++) tick = timing.next(tick);
  return Math.min(endAt, tick ?? Infinity);
}
