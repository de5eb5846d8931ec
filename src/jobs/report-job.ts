import * as v from "valibot";
import type { Conveyor } from "../conveyor.ts";
import { defineJob, type JobDefinition } from "../core/define-job.ts";
import type { JobContext } from "../core/job-context.ts";
import { NameSchema } from "../core/names.ts";
import type { Worker } from "../core/worker.ts";
import type { ScheduleInfo, Scheduler } from "../scheduler/scheduler.ts";
import { queueReport, type QueueReport } from "./report.ts";
import { deliverReport, renderReport, type ReportDelivery } from "./report-render.ts";

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** What a report run is asked for. Where it goes is set in code (`reportHandler`), never by a payload. */
export interface ReportRequest {
  /** @default every queue the conveyor knows */
  queues?: string[];
  /** @default 24 hours */
  windowMs?: number;
  /** How a delivered report is rendered. @default "json" */
  format?: "json" | "csv" | "html";
  /** @default 5 */
  topErrors?: number;
  /** @default 5 */
  slowest?: number;
}

export const ReportRequestSchema: v.GenericSchema<ReportRequest> = v.strictObject({
  queues: v.optional(v.array(NameSchema)),
  windowMs: v.optional(v.pipe(count, v.minValue(1))),
  format: v.optional(v.picklist(["json", "csv", "html"])),
  topErrors: v.optional(count),
  slowest: v.optional(count),
});

/** The report as a job; its result is the report (JSON). */
export const reportJob: JobDefinition<v.GenericSchema<ReportRequest>> = defineJob("conveyor.report", ReportRequestSchema, { attempts: 3, backoff: { type: "exponential", delayMs: 10_000 } });

export interface ReportHandlerOptions {
  /** Where each report goes, rendered in the payload's `format` (default json). @default nowhere: the job's result only */
  deliver?: ReportDelivery;
}

/** The handler of `reportJob`: every queue the conveyor knows unless the payload names some; redacted by the conveyor's redactor. */
export function reportHandler(conveyor: Conveyor, options: ReportHandlerOptions = {}): (request: ReportRequest, ctx: JobContext) => Promise<QueueReport> {
  return async (request, ctx) => {
    const report = await queueReport(conveyor.store, conveyor.clock, {
      queues: request.queues ?? [...conveyor.queues.keys()],
      ...(request.windowMs !== undefined ? { windowMs: request.windowMs } : {}),
      ...(request.topErrors !== undefined ? { topErrors: request.topErrors } : {}),
      ...(request.slowest !== undefined ? { slowest: request.slowest } : {}),
      redact: (value) => conveyor.redactor.json(value),
    });
    if (options.deliver) await deliverReport(renderReport(report, request.format ?? "json"), options.deliver, ctx.signal);
    return report;
  };
}

export interface ScheduleReportOptions extends ReportHandlerOptions {
  request?: ReportRequest;
  /** @default "0 6 * * *" (daily at 06:00) */
  when?: string | { everyMs: number };
  /** @default UTC */
  timezone?: string;
  /** @default "conveyor-maintenance" */
  queue?: string;
  /** @default "conveyor.report" */
  id?: string;
  /** Worker that handles it; one is started on `queue` when not given. */
  worker?: Worker;
}

/** One call: a daily report schedule, and a worker that builds and delivers it. */
export async function scheduleReport(conveyor: Conveyor, scheduler: Scheduler, options: ScheduleReportOptions = {}): Promise<{ schedule: ScheduleInfo; worker: Worker }> {
  const queue = options.queue ?? "conveyor-maintenance";
  const worker = options.worker ?? conveyor.worker(queue);
  worker.handle(reportJob, reportHandler(conveyor, options.deliver ? { deliver: options.deliver } : {}));
  const schedule = await scheduler.schedule(options.id ?? "conveyor.report", options.when ?? "0 6 * * *", {
    queue,
    job: reportJob,
    payload: options.request ?? {},
  }, options.timezone ? { timezone: options.timezone } : {});
  return { schedule, worker };
}
