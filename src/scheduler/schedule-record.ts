import * as v from "valibot";
import type { JobDefinition, PayloadInput } from "../core/define-job.ts";
import { isJobDefinition } from "../core/define-job.ts";
import { ConveyorError } from "../core/errors.ts";
import { type JobOptions, JobOptionsFields } from "../core/job-options.ts";
import { NameSchema } from "../core/names.ts";
import { parseArgument, parseData } from "../core/validation.ts";
import type { SchedulerHost } from "./firing.ts";
import { type ScheduleOptions, ScheduleOptionsSchema, type ScheduleRecord } from "./schedule-options.ts";
import { timingOf, type When } from "./timing.ts";

/** What a schedule enqueues at each tick: a job definition with its payload, on a queue. */
export interface ScheduleTarget<D extends JobDefinition = JobDefinition> {
  readonly queue: string;
  readonly job: D;
  readonly payload: PayloadInput<D>;
  /** Options of every job it enqueues (priority, attempts, backoff, timeout, retention …). */
  readonly options?: Omit<JobOptions, "jobId" | "delayMs" | "runAt" | "dedupKey">;
}

/** A schedule's job options: timing and identity are the schedule's own. */
const TargetOptionsSchema = v.omit(JobOptionsFields, ["jobId", "delayMs", "runAt", "dedupKey"]);

/**
 * Validates a definition (throwing with the bad value quoted) and builds the record the store
 * keeps. Registers the job on its queue, so this node can fire the schedule.
 */
export function buildScheduleRecord<D extends JobDefinition>(
  host: SchedulerHost,
  id: string,
  when: When,
  target: ScheduleTarget<D>,
  options: ScheduleOptions,
): ScheduleRecord {
  parseArgument(NameSchema, id, "schedule id");
  if (!target || !isJobDefinition(target.job)) throw new TypeError(`schedule("${id}") needs { queue, job, payload } with a job made by defineJob()`);
  parseArgument(NameSchema, target.queue, "queue name");
  const o = parseData(ScheduleOptionsSchema, options ?? {}, `options of schedule "${id}"`);
  const timezone = o.timezone ?? null;
  timingOf(when, timezone); // throws, quoting the bad expression or timezone
  parseData(target.job.schema, target.payload, `payload of schedule "${id}"`);
  const jobOptions = parseData(TargetOptionsSchema, target.options ?? {}, `job options of schedule "${id}"`);
  if (o.startAt !== undefined && o.endAt !== undefined && o.endAt < o.startAt) {
    throw new ConveyorError("VALIDATION_FAILED", `Schedule "${id}" ends before it starts`, { issues: [{ path: "endAt", message: "after startAt" }] });
  }
  host.queue(target.queue).register(target.job);
  const now = host.clock.now();
  const catchUp = o.catchUp ?? "none";
  return {
    id,
    queue: target.queue,
    job: target.job.name,
    payload: target.payload,
    jobOptions: Object.fromEntries(Object.entries(jobOptions).filter(([, value]) => value !== undefined)),
    cron: typeof when === "string" ? when.trim() : null,
    everyMs: typeof when === "string" ? null : when.everyMs,
    timezone,
    startAt: o.startAt ?? null,
    endAt: o.endAt ?? null,
    maxRuns: o.maxRuns ?? null,
    overlap: o.overlap ?? "skip",
    catchUp: typeof catchUp === "string" ? { mode: catchUp, max: 1 } : { mode: "all", max: catchUp.all },
    paused: o.paused ?? false,
    createdAt: now,
    updatedAt: now,
  };
}

/** Whether two records define the same schedule (when each was written aside). */
export function sameDefinition(a: ScheduleRecord, b: ScheduleRecord): boolean {
  return JSON.stringify({ ...a, createdAt: 0, updatedAt: 0 }) === JSON.stringify({ ...b, createdAt: 0, updatedAt: 0 });
}
