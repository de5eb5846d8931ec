import * as v from "valibot";
import type { Clock } from "../core/clock.ts";
import type { Job, JobCounts } from "../core/job.ts";
import { NameSchema } from "../core/names.ts";
import type { QueueStore } from "../core/store-contract.ts";
import { parseArgument } from "../core/validation.ts";

export interface ReportOptions {
  /** Queues to report on (the store contract cannot list them). */
  queues: readonly string[];
  /** The period: jobs that finished in the last `windowMs` before now. @default 24 hours */
  windowMs?: number;
  /** Most frequent errors listed per queue. @default 5 */
  topErrors?: number;
  /** Slowest completed jobs listed per queue. @default 5 */
  slowest?: number;
  /** Finished jobs read per queue and state at most, newest first: bounds a report's cost on a busy queue. @default 100_000 */
  maxJobs?: number;
  /** Applied to the finished report (error messages included): a conveyor's `redactor.json`. @default none */
  redact?: (value: unknown) => unknown;
}

export const REPORT_DEFAULTS = Object.freeze({ windowMs: 24 * 60 * 60 * 1000, topErrors: 5, slowest: 5, maxJobs: 100_000 });

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const ReportOptionsSchema = v.strictObject({
  queues: v.array(NameSchema),
  windowMs: v.optional(v.pipe(count, v.minValue(1))),
  topErrors: v.optional(count),
  slowest: v.optional(count),
  maxJobs: v.optional(v.pipe(count, v.minValue(1))),
  redact: v.optional(v.custom<(value: unknown) => unknown>((f) => typeof f === "function", "a function")),
});

export interface ErrorCount {
  /** The error's code, or its name when it has none. */
  readonly error: string;
  /** The latest message with that code (at most 200 characters). */
  readonly message: string;
  readonly count: number;
  readonly lastAt: number;
}

export interface SlowJob {
  readonly id: string;
  readonly name: string;
  readonly durationMs: number;
  readonly finishedAt: number;
}

export interface QueueReportFigures {
  readonly queue: string;
  /** Jobs per state now. */
  readonly counts: JobCounts;
  /** Jobs that ended in the period: completed, failed for good (failed or dead), cancelled. */
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
  /** completed + failed. */
  readonly executions: number;
  /** completed / executions, 0–1; null with no execution. */
  readonly successRate: number | null;
  readonly throughputPerHour: number;
  /** Of the last attempt of each completed job (finish minus start); null with none. */
  readonly durations: { readonly averageMs: number; readonly p95Ms: number; readonly maxMs: number } | null;
  readonly topErrors: readonly ErrorCount[];
  readonly slowest: readonly SlowJob[];
  /** True when `maxJobs` stopped the reading before the period's start: the figures are a lower bound. */
  readonly truncated: boolean;
}

export interface QueueReport {
  readonly generatedAt: number;
  readonly from: number;
  readonly to: number;
  readonly queues: readonly QueueReportFigures[];
}

const PAGE = 500;

/** Figures per queue for the period ending now, read through the store contract (any store). */
export async function queueReport(store: QueueStore, clock: Clock, options: ReportOptions): Promise<QueueReport> {
  const o = parseArgument(ReportOptionsSchema, options, "report options");
  const to = clock.now();
  const from = to - (o.windowMs ?? REPORT_DEFAULTS.windowMs);
  const limits = { topErrors: o.topErrors ?? REPORT_DEFAULTS.topErrors, slowest: o.slowest ?? REPORT_DEFAULTS.slowest, maxJobs: o.maxJobs ?? REPORT_DEFAULTS.maxJobs };
  const queues: QueueReportFigures[] = [];
  for (const queue of o.queues) queues.push(await figuresOf(store, queue, from, to, limits));
  const report: QueueReport = { generatedAt: to, from, to, queues };
  return o.redact ? o.redact(report) as QueueReport : report;
}

async function figuresOf(store: QueueStore, queue: string, from: number, to: number, limits: { topErrors: number; slowest: number; maxJobs: number }): Promise<QueueReportFigures> {
  const counts = await store.counts(queue);
  let truncated = false;
  const durations: number[] = [];
  const slow: SlowJob[] = [];
  const errors = new Map<string, { message: string; count: number; lastAt: number }>();
  const tally = { completed: 0, failed: 0, cancelled: 0 };
  for (const state of ["completed", "failed", "dead", "cancelled"] as const) {
    const read = await eachInPeriod(store, queue, state, from, to, limits.maxJobs, (job) => {
      if (state === "completed") {
        tally.completed++;
        const ms = Math.max(0, job.finishedAt! - (job.startedAt ?? job.finishedAt!));
        durations.push(ms);
        slow.push({ id: job.id, name: job.name, durationMs: ms, finishedAt: job.finishedAt! });
      } else if (state === "cancelled") tally.cancelled++;
      else {
        tally.failed++;
        const key = job.lastError?.code ?? job.lastError?.name ?? "unknown";
        const seen = errors.get(key);
        // Lists come newest first: the first message met is the latest.
        if (seen) seen.count++;
        else errors.set(key, { message: (job.lastError?.message ?? "").slice(0, 200), count: 1, lastAt: job.finishedAt! });
      }
    });
    truncated ||= read;
  }
  const executions = tally.completed + tally.failed;
  const hours = (to - from) / 3_600_000;
  durations.sort((a, b) => a - b);
  return {
    queue,
    counts,
    ...tally,
    executions,
    successRate: executions === 0 ? null : tally.completed / executions,
    throughputPerHour: Math.round((tally.completed / hours) * 100) / 100,
    durations: durations.length === 0 ? null : {
      averageMs: Math.round(durations.reduce((a, b) => a + b, 0) / durations.length),
      p95Ms: durations[Math.min(durations.length - 1, Math.ceil(durations.length * 0.95) - 1)]!,
      maxMs: durations[durations.length - 1]!,
    },
    topErrors: [...errors].map(([error, e]) => ({ error, ...e })).sort((a, b) => b.count - a.count || b.lastAt - a.lastAt).slice(0, limits.topErrors),
    slowest: slow.sort((a, b) => b.durationMs - a.durationMs || b.finishedAt - a.finishedAt).slice(0, limits.slowest),
    truncated,
  };
}

/** Calls `each` for the jobs of a finished state that ended in [from, to]; true when `maxJobs` cut the reading short. */
async function eachInPeriod(store: QueueStore, queue: string, state: Job["state"], from: number, to: number, maxJobs: number, each: (job: Job) => void): Promise<boolean> {
  for (let offset = 0; offset < maxJobs; offset += PAGE) {
    const page = await store.list(queue, state, { offset, limit: Math.min(PAGE, maxJobs - offset) });
    for (const job of page) {
      const at = job.finishedAt ?? 0;
      if (at < from) return false; // newest first: the rest is older still
      if (at <= to) each(job);
    }
    if (page.length < PAGE) return false;
  }
  return true;
}
