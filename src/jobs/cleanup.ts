import * as v from "valibot";
import type { Clock } from "../core/clock.ts";
import type { JobState } from "../core/job.ts";
import { NameSchema } from "../core/names.ts";
import type { QueueStore } from "../core/store-contract.ts";
import { parseArgument } from "../core/validation.ts";
import type { ScheduleRecord, ScheduleState } from "../scheduler/schedule-options.ts";
import { SCHEDULES, STATES } from "../scheduler/schedule-state.ts";

/** How much of something to keep: both bounds apply when both are given; `null` keeps everything. */
export interface RetentionBound {
  /** Delete what finished (or happened) longer ago than this. */
  olderThanMs?: number;
  /** Keep at most this many, the newest. */
  keep?: number;
}

export type FinishedState = "completed" | "failed" | "dead" | "cancelled";
export const CLEANED_STATES: readonly FinishedState[] = Object.freeze(["completed", "failed", "dead", "cancelled"]);

/** What a cleanup removes. Plain data, so it is also the payload of `cleanupJob`. */
export interface CleanupRules {
  /**
   * Queues to clean. The store contract cannot list queues, so name them; `scheduleCleanup`
   * fills in every queue its conveyor knows. Queues that stored schedules fire into are added.
   * @default []
   */
  queues?: string[];
  /** Completed jobs. @default { olderThanMs: 7 days } */
  completed?: RetentionBound | null;
  /** Failed jobs (without the dead-letter store). @default { olderThanMs: 30 days } */
  failed?: RetentionBound | null;
  /** Dead letters. @default { olderThanMs: 30 days } */
  dead?: RetentionBound | null;
  /** Cancelled jobs. @default { olderThanMs: 7 days } */
  cancelled?: RetentionBound | null;
  /** Per-queue rules, over the ones above: `{ emails: { completed: { keep: 100 } } }`. @default {} */
  perQueue?: Record<string, Partial<Record<FinishedState, RetentionBound | null>>>;
  /** Audit entries. @default null (the log is kept; set a bound to trim it) */
  audit?: RetentionBound | null;
  /** Schedules that will never fire again (past `endAt`, or `maxRuns` reached), removed with their state this long after their last run. @default { olderThanMs: 7 days } */
  finishedSchedules?: { olderThanMs?: number } | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const CLEANUP_DEFAULTS = Object.freeze({
  queues: Object.freeze([]) as readonly string[],
  completed: Object.freeze({ olderThanMs: 7 * DAY_MS }),
  failed: Object.freeze({ olderThanMs: 30 * DAY_MS }),
  dead: Object.freeze({ olderThanMs: 30 * DAY_MS }),
  cancelled: Object.freeze({ olderThanMs: 7 * DAY_MS }),
  audit: null,
  finishedSchedules: Object.freeze({ olderThanMs: 7 * DAY_MS }),
});

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const Bound = v.nullable(v.strictObject({ olderThanMs: v.optional(count), keep: v.optional(count) }));

/** Checks rules given to `cleanup` and the payloads of `cleanupJob`. */
export const CleanupRulesSchema: v.GenericSchema<CleanupRules> = v.strictObject({
  queues: v.optional(v.array(NameSchema)),
  completed: v.optional(Bound),
  failed: v.optional(Bound),
  dead: v.optional(Bound),
  cancelled: v.optional(Bound),
  perQueue: v.optional(v.record(NameSchema, v.strictObject({
    completed: v.optional(Bound),
    failed: v.optional(Bound),
    dead: v.optional(Bound),
    cancelled: v.optional(Bound),
  }))),
  audit: v.optional(Bound),
  finishedSchedules: v.optional(v.nullable(v.strictObject({ olderThanMs: v.optional(count) }))),
});

export interface CleanupResult {
  /** Jobs removed, per queue and state (states with nothing removed left out). */
  readonly queues: Record<string, Partial<Record<JobState, number>>>;
  readonly jobs: number;
  readonly audit: number;
  /** Ids of the schedules removed. */
  readonly schedules: string[];
}

/** Jobs deleted per store call: short calls, so workers on the same store never wait long. */
const BATCH = 1_000;

/**
 * Deletes finished jobs, audit entries and finished schedules by age and count, through the store
 * contract only (so on every store). Active and pending jobs are never touched.
 */
export async function cleanup(store: QueueStore, clock: Clock, rules: CleanupRules = {}): Promise<CleanupResult> {
  const r = parseArgument(CleanupRulesSchema, rules, "cleanup rules");
  const now = clock.now();
  const schedules = await store.listRecords<ScheduleRecord>(SCHEDULES);
  const queues = new Set([...(r.queues ?? CLEANUP_DEFAULTS.queues), ...schedules.map(({ value }) => value.queue)]);
  const result = { queues: {} as CleanupResult["queues"], jobs: 0, audit: 0, schedules: [] as string[] };
  for (const queue of [...queues].sort()) {
    const removed: Partial<Record<JobState, number>> = {};
    for (const state of CLEANED_STATES) {
      const override = r.perQueue?.[queue];
      const bound = override && state in override ? override[state] : state in r ? r[state] : CLEANUP_DEFAULTS[state];
      const n = bound ? await cleanState(store, queue, state, bound, now) : 0;
      if (n > 0) removed[state] = n;
      result.jobs += n;
    }
    result.queues[queue] = removed;
  }
  const audit = r.audit === undefined ? CLEANUP_DEFAULTS.audit : r.audit;
  if (audit && (audit.olderThanMs !== undefined || audit.keep !== undefined)) {
    result.audit = await store.trimAudit({
      ...(audit.olderThanMs !== undefined ? { olderThan: now - audit.olderThanMs } : {}),
      ...(audit.keep !== undefined ? { keep: audit.keep } : {}),
    });
  }
  const finished = r.finishedSchedules === undefined ? CLEANUP_DEFAULTS.finishedSchedules : r.finishedSchedules;
  if (finished) {
    const graceMs = finished.olderThanMs ?? 0;
    for (const { key, value } of schedules) {
      const state = await store.getRecord<ScheduleState>(STATES, key);
      const endedAt = endOf(value, state);
      if (endedAt === null || endedAt + graceMs > now) continue;
      await store.deleteRecord(SCHEDULES, key);
      await store.deleteRecord(STATES, key);
      result.schedules.push(key);
    }
  }
  return result;
}

/** Age first, then count: the count rule then sees only what the age rule left. */
async function cleanState(store: QueueStore, queue: string, state: FinishedState, bound: RetentionBound, now: number): Promise<number> {
  let removed = 0;
  if (bound.olderThanMs !== undefined) {
    const cutoff = now - bound.olderThanMs;
    for (;;) {
      const n = await store.clean(queue, { state, cutoff, limit: BATCH });
      removed += n;
      if (n < BATCH) break;
    }
  }
  if (bound.keep !== undefined) {
    let excess = (await store.counts(queue))[state] - bound.keep;
    while (excess > 0) {
      // `clean` deletes the oldest first: the newest `keep` stay.
      const n = await store.clean(queue, { state, cutoff: Number.MAX_SAFE_INTEGER, limit: Math.min(excess, BATCH) });
      removed += n;
      excess -= n;
      if (n === 0) break;
    }
  }
  return removed;
}

/** When a schedule stopped for good (its end, or its last run), or null while it may still fire. */
function endOf(record: ScheduleRecord, state: ScheduleState | null): number | null {
  if (record.maxRuns !== null && state !== null && state.runs >= record.maxRuns) return state.lastRunAt ?? record.updatedAt;
  if (record.endAt !== null) return Math.max(record.endAt, state?.lastRunAt ?? 0);
  return null;
}
