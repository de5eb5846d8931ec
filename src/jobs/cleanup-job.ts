import type * as v from "valibot";
import type { Conveyor } from "../conveyor.ts";
import { defineJob, type JobDefinition } from "../core/define-job.ts";
import type { Worker } from "../core/worker.ts";
import type { ScheduleInfo, Scheduler } from "../scheduler/scheduler.ts";
import { cleanup, type CleanupResult, type CleanupRules, CleanupRulesSchema } from "./cleanup.ts";

/** The cleanup as a job: enqueue it over HTTP (`{ "name": "conveyor.cleanup", "payload": rules }`), or schedule it. */
export const cleanupJob: JobDefinition<v.GenericSchema<CleanupRules>> = defineJob("conveyor.cleanup", CleanupRulesSchema);

/** The handler of `cleanupJob` on this conveyor: with no `queues` in the payload, every queue it knows. */
export function cleanupHandler(conveyor: Conveyor): (rules: CleanupRules) => Promise<CleanupResult> {
  return async (rules) => await cleanup(conveyor.store, conveyor.clock, { ...rules, queues: rules.queues ?? [...conveyor.queues.keys()] });
}

export interface ScheduleCleanupOptions {
  /** The rules each run applies (see `CleanupRules`). @default CLEANUP_DEFAULTS, every queue the conveyor knows at the run */
  rules?: CleanupRules;
  /** When it runs: a cron expression or `{ everyMs }`. @default "0 3 * * *" (daily at 03:00) */
  when?: string | { everyMs: number };
  /** Timezone of the cron expression. @default UTC */
  timezone?: string;
  /** Queue the cleanup job runs on. @default "conveyor-maintenance" */
  queue?: string;
  /** Schedule id. @default "conveyor.cleanup" */
  id?: string;
  /** Worker that handles it; one is started on `queue` when not given. */
  worker?: Worker;
}

/**
 * One call: a daily schedule that enqueues `cleanupJob`, and a worker handling it. Call it on
 * every node that runs the scheduler; the schedule fires once per tick across them.
 */
export async function scheduleCleanup(conveyor: Conveyor, scheduler: Scheduler, options: ScheduleCleanupOptions = {}): Promise<{ schedule: ScheduleInfo; worker: Worker }> {
  const queue = options.queue ?? "conveyor-maintenance";
  const worker = options.worker ?? conveyor.worker(queue);
  worker.handle(cleanupJob, cleanupHandler(conveyor));
  const schedule = await scheduler.schedule(options.id ?? "conveyor.cleanup", options.when ?? "0 3 * * *", {
    queue,
    job: cleanupJob,
    payload: options.rules ?? {},
  }, options.timezone ? { timezone: options.timezone } : {});
  return { schedule, worker };
}
