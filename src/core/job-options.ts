import * as v from "valibot";
import { type Backoff, type BackoffFunction, storedBackoff } from "./backoff.ts";
import type { NewJob, RetentionRule } from "./job.ts";
import { MAX_PRIORITY, PRIORITIES, type Priority, priorityValue } from "./priority.ts";
import { parseData } from "./validation.ts";

/** How many finished jobs to keep: `true` none, `false` all, a number the last N, or bounds. */
export type Retention = boolean | number | { count?: number; ageMs?: number };

/** Options every job accepts, per job or as defaults on its definition. */
export interface JobSettings {
  /** Lower runs first; names map to 0/100/200/300. @default "normal" */
  priority?: Priority;
  /** Total tries, the first included. @default 1 */
  attempts?: number;
  /** Wait between tries. @default no wait */
  backoff?: Backoff;
  /** Abort the handler's signal and fail the attempt after this long. @default no timeout */
  timeoutMs?: number;
  /** Completed jobs to keep. @default { count: 1000 } */
  removeOnComplete?: Retention;
  /** Jobs that failed without dead-lettering, or were cancelled, to keep. @default { count: 1000 } */
  removeOnFail?: Retention;
  /** Final failures go to the dead-letter store. @default true */
  deadLetter?: boolean;
}

/** Options for one `add`. */
export interface JobOptions extends JobSettings {
  /** Serialisable backoff only: functions belong on the job definition. */
  backoff?: Exclude<Backoff, BackoffFunction>;
  /** Become due this long after enqueue. @default 0 */
  delayMs?: number;
  /** Become due at this time (epoch ms or Date); not together with `delayMs`. @default now */
  runAt?: number | Date;
  /** Custom id. Adding a job whose id exists (in any kept state) returns the existing job. @default generated */
  jobId?: string;
  /** While a job with this key is waiting, delayed or active, adding another returns it. @default none */
  dedupKey?: string;
  /** Who enqueues the job, kept on it for the audit trail. Not accepted from HTTP bodies: the app sets it from the token. @default null */
  createdBy?: string;
}

export const DEFAULT_RETENTION: RetentionRule = Object.freeze({ count: 1000, ageMs: null });

const nonNegativeInt = v.pipe(v.number(), v.integer(), v.minValue(0));
const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));
const key = v.pipe(v.string(), v.minLength(1), v.maxLength(512));

const PrioritySchema = v.union([
  v.picklist(Object.keys(PRIORITIES) as (keyof typeof PRIORITIES)[]),
  v.pipe(nonNegativeInt, v.maxValue(MAX_PRIORITY)),
]);

const StoredBackoffSchema = v.variant("type", [
  v.strictObject({ type: v.literal("fixed"), delayMs: nonNegativeInt }),
  v.strictObject({
    type: v.literal("exponential"),
    delayMs: nonNegativeInt,
    maxDelayMs: v.optional(nonNegativeInt),
    jitter: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  }),
]);

const RetentionSchema = v.union([
  v.boolean(),
  nonNegativeInt,
  v.strictObject({ count: v.optional(nonNegativeInt), ageMs: v.optional(nonNegativeInt) }),
]);

const settingsEntries = {
  priority: v.optional(PrioritySchema),
  attempts: v.optional(v.pipe(positiveInt, v.maxValue(1_000_000))),
  timeoutMs: v.optional(positiveInt),
  removeOnComplete: v.optional(RetentionSchema),
  removeOnFail: v.optional(RetentionSchema),
  deadLetter: v.optional(v.boolean()),
};

/** Defaults on a definition: a backoff function is allowed here. */
export const JobSettingsSchema = v.strictObject({
  ...settingsEntries,
  backoff: v.optional(v.union([StoredBackoffSchema, v.custom<BackoffFunction>((f) => typeof f === "function")])),
});

/** Options of one add: everything must be plain data. */
export const JobOptionsFields = v.strictObject({
  ...settingsEntries,
  backoff: v.optional(StoredBackoffSchema),
  delayMs: v.optional(nonNegativeInt),
  runAt: v.optional(v.union([nonNegativeInt, v.pipe(v.date(), v.transform((d) => d.getTime()))])),
  // All-digit ids are the store's own; a custom one must not collide with them.
  jobId: v.optional(v.pipe(key, v.regex(/\D/, "an id with at least one non-digit character"))),
  dedupKey: v.optional(key),
});

export const JobOptionsSchema = v.pipe(
  v.strictObject({ ...JobOptionsFields.entries, createdBy: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))) }),
  v.check((o) => o.delayMs === undefined || o.runAt === undefined, "delayMs or runAt, not both"),
);

export function retentionRule(retention: Retention | undefined): RetentionRule {
  if (retention === undefined) return DEFAULT_RETENTION;
  if (retention === true) return { count: 0, ageMs: null };
  if (retention === false) return { count: null, ageMs: null };
  if (typeof retention === "number") return { count: retention, ageMs: null };
  return { count: retention.count ?? null, ageMs: retention.ageMs ?? null };
}

/** Merges definition defaults with per-job options into what the store receives. */
export function buildNewJob(
  name: string,
  payload: unknown,
  defaults: Readonly<JobSettings>,
  options: JobOptions | undefined,
  now: number,
): NewJob {
  const o = options === undefined ? undefined : parseData(JobOptionsSchema, options, "job options");
  const runAt = o?.runAt ?? now + (o?.delayMs ?? 0);
  return {
    id: o?.jobId ?? null,
    name,
    payload,
    priority: priorityValue(o?.priority ?? defaults.priority ?? "normal"),
    createdAt: now,
    runAt,
    maxAttempts: o?.attempts ?? defaults.attempts ?? 1,
    backoff: storedBackoff(o?.backoff ?? defaults.backoff),
    timeoutMs: o?.timeoutMs ?? defaults.timeoutMs ?? null,
    dedupKey: o?.dedupKey ?? null,
    removeOnComplete: retentionRule(o?.removeOnComplete ?? defaults.removeOnComplete),
    removeOnFail: retentionRule(o?.removeOnFail ?? defaults.removeOnFail),
    deadLetter: o?.deadLetter ?? defaults.deadLetter ?? true,
    createdBy: o?.createdBy ?? null,
  };
}
