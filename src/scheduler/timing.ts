import { Cron } from "croner";
import { ConveyorError } from "../core/errors.ts";

/** When a schedule fires: a cron expression (5 or 6 fields, or a nickname like "@hourly"), or a fixed interval. */
export type When = string | { readonly everyMs: number };

/**
 * The ticks of a schedule: instants every node computes the same way from the definition
 * alone (a cron expression in a timezone, or multiples of an interval since the Unix epoch),
 * so a tick's time can name the job it enqueues.
 */
export interface Timing {
  /** First tick strictly after `afterMs`, or null when there is none. */
  next(afterMs: number): number | null;
  /** Up to `count` latest ticks at or before `atMs`, oldest first. */
  latest(atMs: number, count: number): number[];
}

const invalid = (message: string) => new ConveyorError("VALIDATION_FAILED", message, { issues: [{ path: "when", message }] });

export function cronTiming(expression: string, timezone: string | null): Timing {
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, ...(timezone ? { timezone } : {}) });
    cron.nextRun(); // an unknown timezone only shows when a date is converted
  } catch (error) {
    const reason = (error as Error).message;
    if (timezone && /timezone/i.test(reason)) {
      throw invalid(`Unknown timezone "${timezone}": expected an IANA name such as "Europe/Berlin" or "America/New_York"`);
    }
    throw invalid(`Invalid cron expression "${expression}": ${reason.replace(/^CronPattern: /, "")}. Expected 5 fields (minute hour day month weekday) or 6 (with seconds first)`);
  }
  return {
    next: (afterMs) => cron.nextRun(new Date(afterMs))?.getTime() ?? null,
    latest: (atMs, count) => cron.previousRuns(count, new Date(atMs + 1)).map((d) => d.getTime()).reverse(),
  };
}

/** The last instant a Date can hold: ticks are instants, so none lies beyond it. */
const MAX_DATE_MS = 8_640_000_000_000_000;

export function intervalTiming(everyMs: number): Timing {
  if (!Number.isInteger(everyMs) || everyMs < 1 || everyMs > MAX_DATE_MS) {
    throw invalid(`Invalid interval ${everyMs} ms: expected a whole number of milliseconds from 1 to ${MAX_DATE_MS} (the range of a Date)`);
  }
  return {
    next: (afterMs) => {
      const tick = (Math.floor(afterMs / everyMs) + 1) * everyMs;
      return tick <= MAX_DATE_MS ? tick : null;
    },
    latest: (atMs, count) => {
      const last = Math.floor(atMs / everyMs) * everyMs;
      return Array.from({ length: count }, (_, i) => last - (count - 1 - i) * everyMs);
    },
  };
}

export function timingOf(when: When, timezone: string | null): Timing {
  if (typeof when === "string") return cronTiming(when.trim(), timezone);
  if (when && typeof when === "object" && typeof when.everyMs === "number") return intervalTiming(when.everyMs);
  throw invalid(`Invalid schedule timing ${JSON.stringify(when)}: expected a cron expression or every(n, unit)`);
}

const UNITS = { seconds: 1_000, minutes: 60_000, hours: 3_600_000 } as const;

/** Every `n` seconds, minutes or hours, aligned to the epoch (so to the clock: every(5, "minutes") fires at :00, :05 …). */
export function every(n: number, unit: keyof typeof UNITS): When {
  if (!(unit in UNITS)) throw new TypeError(`every() unit must be "seconds", "minutes" or "hours", got ${JSON.stringify(unit)}`);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`every() expects a whole number of ${unit}, at least 1, got ${n}`);
  return { everyMs: n * UNITS[unit] };
}

export function hourly(minute = 0): When {
  if (!Number.isInteger(minute) || minute < 0 || minute > 59) throw new RangeError(`hourly() minute must be 0-59, got ${minute}`);
  return `${minute} * * * *`;
}

function hoursMinutes(at: string, what: string): [number, number] {
  const match = /^(\d{1,2}):(\d{2})$/.exec(at);
  const [h, m] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(h >= 0 && h <= 23 && m >= 0 && m <= 59)) throw new RangeError(`${what} expects a time as "HH:MM" (00:00 to 23:59), got ${JSON.stringify(at)}`);
  return [h, m];
}

export function daily(): When {
  return "0 0 * * *";
}

/** Every day at `at` ("02:30"), in the schedule's timezone. */
export function dailyAt(at: string): When {
  const [h, m] = hoursMinutes(at, "dailyAt()");
  return `${m} ${h} * * *`;
}

const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"] as const;
export type Weekday = (typeof DAYS)[number];

/** Every week on `day` at `at` ("00:00" unless given), in the schedule's timezone. */
export function weekly(day: Weekday, at = "00:00"): When {
  const index = DAYS.indexOf(String(day).toLowerCase() as Weekday);
  if (index < 0) throw new RangeError(`weekly() expects a weekday name (${DAYS.join(", ")}), got ${JSON.stringify(day)}`);
  const [h, m] = hoursMinutes(at, "weekly()");
  return `${m} ${h} * * ${index}`;
}
