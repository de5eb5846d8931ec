import * as v from "valibot";
import type { JobOptions } from "../core/job-options.ts";
import type { NamedBatch, NamedChain, NamedFlow } from "../core/workflow-spec.ts";
import type { PendingTick } from "./pending.ts";

/** What happens at a tick while the schedule's previous run has not finished. */
export type OverlapPolicy = "skip" | "allow" | "queue";
/** What happens to ticks missed while no scheduler ran. */
export type CatchUpPolicy = "none" | "latest" | { readonly all: number };

export interface ScheduleOptions {
  /** IANA timezone the cron expression is read in. @default "UTC" */
  timezone?: string;
  /** No tick before this time. */
  startAt?: Date | number | string;
  /** No tick after this time. */
  endAt?: Date | number | string;
  /** Fire at most this many ticks, counted from the first at or after `startAt` (or creation). */
  maxRuns?: number;
  /**
   * `skip` (default): no new run while the last is waiting or active (recorded as skipped);
   * `allow`: always enqueue; `queue`: at most one run waiting behind an active one.
   */
  overlap?: OverlapPolicy;
  /** Ticks missed during downtime: `none` (default), `latest` (one run), or `{ all: n }` (the last n). */
  catchUp?: CatchUpPolicy;
  /** Defined but not firing until resumed. @default false */
  paused?: boolean;
}

const Instant = v.pipe(
  v.union([v.date(), v.number(), v.string()], "a Date, a millisecond timestamp or an ISO date string"),
  v.transform((value) => value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value)),
  v.check((ms) => Number.isFinite(ms), "a valid date"),
);

export const ScheduleOptionsSchema = v.strictObject({
  timezone: v.optional(v.pipe(v.string(), v.minLength(1))),
  startAt: v.optional(Instant),
  endAt: v.optional(Instant),
  maxRuns: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  overlap: v.optional(v.picklist(["skip", "allow", "queue"], 'one of "skip", "allow", "queue"')),
  catchUp: v.optional(v.union([
    v.picklist(["none", "latest"]),
    v.strictObject({ all: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000)) }),
  ], '"none", "latest" or { all: n } with n from 1 to 1000')),
  paused: v.optional(v.boolean()),
});

/**
 * A workflow a schedule starts at each tick instead of one job, by job name (see
 * core/workflow-spec.ts): the store keeps it as this JSON, and each node resolves the names.
 */
export type ScheduledWorkflow = { readonly chain: NamedChain } | { readonly flow: NamedFlow } | { readonly batch: NamedBatch };

/** A schedule as the store keeps it: everything any node needs to fire it. */
export interface ScheduleRecord {
  readonly id: string;
  readonly queue: string;
  /** Name of the job definition (a workflow's first or root job); nodes that have it registered on the queue can fire it. */
  readonly job: string;
  readonly payload: unknown;
  /**
   * The workflow each tick starts on `queue` (its chain's first step, its flow's root, its
   * batch), null for one job. Absent from records written before workflows.
   */
  readonly workflow?: ScheduledWorkflow | null;
  readonly jobOptions: Omit<JobOptions, "jobId" | "delayMs" | "runAt">;
  readonly cron: string | null;
  readonly everyMs: number | null;
  readonly timezone: string | null;
  readonly startAt: number | null;
  readonly endAt: number | null;
  readonly maxRuns: number | null;
  readonly overlap: OverlapPolicy;
  readonly catchUp: { readonly mode: "none" | "latest" | "all"; readonly max: number };
  readonly paused: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What has happened to a schedule, shared by every node firing it. */
export interface ScheduleState {
  /** The latest tick dealt with (fired, skipped, or passed over as missed). */
  readonly lastTick: number | null;
  /** When the latest run was enqueued, and its job. */
  readonly lastRunAt: number | null;
  readonly lastJobId: string | null;
  readonly lastSkippedAt: number | null;
  readonly runs: number;
  readonly skipped: number;
  /**
   * Ticks claimed whose jobs are not known to be enqueued: empty but while a node fires, or after
   * it died doing so (see `pending.ts`). Absent from states written before it existed.
   */
  readonly pending: readonly PendingTick[];
}

export const EMPTY_STATE: ScheduleState = Object.freeze({
  lastTick: null,
  lastRunAt: null,
  lastJobId: null,
  lastSkippedAt: null,
  runs: 0,
  skipped: 0,
  pending: Object.freeze([]),
});
