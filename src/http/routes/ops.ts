import * as v from "valibot";
import type { Conveyor } from "../../conveyor.ts";
import { JOB_STATES } from "../../core/job.ts";
import type { RateLimitRule } from "../../core/rate-limit-rules.ts";
import type { RateLimitUsage } from "../rate-limit.ts";
import { type Route, route } from "../route.ts";
import type { ExecutionStats } from "../stats.ts";

export interface OpsContext {
  readonly conveyor: Conveyor;
  readonly stats: ExecutionStats;
  readonly authEnabled: boolean;
  readonly rateLimit: { readonly rule: RateLimitRule; readonly shared: boolean; readonly usage: RateLimitUsage } | null;
}

async function health({ conveyor, stats, authEnabled, rateLimit }: OpsContext) {
  const queues = await Promise.all([...conveyor.queues.values()].map(async (queue) => {
    stats.watch(queue);
    return { name: queue.name, paused: await queue.isPaused(), counts: await queue.counts(), last24h: stats.last24h(queue.name) };
  }));
  return {
    status: "ok",
    time: new Date(conveyor.clock.now()).toISOString(),
    configuration: {
      store: conveyor.store.constructor.name,
      capabilities: conveyor.store.capabilities,
      auth: authEnabled,
      workers: [...conveyor.workers].map((w) => ({
        id: w.id,
        queue: w.queue.name,
        queues: w.queues.map((q) => q.name),
        concurrency: w.concurrency,
        active: w.activeCount,
        running: w.isRunning,
      })),
    },
    rateLimit: rateLimit && { rule: rateLimit.rule, sharedAcrossProcesses: rateLimit.shared, allowed: rateLimit.usage.allowed, limited: rateLimit.usage.limited },
    queues,
  };
}

function asText(report: Awaited<ReturnType<typeof health>>): string {
  const lines = [
    `status: ${report.status} at ${report.time}`,
    `store: ${report.configuration.store} (${Object.entries(report.configuration.capabilities).map(([k, v]) => `${k}=${v}`).join(", ")})`,
    `auth: ${report.configuration.auth ? "on" : "OFF"}`,
    `workers: ${report.configuration.workers.map((w) => `${w.queues.join("+")}×${w.concurrency} (${w.active} active)`).join(", ") || "none in this process"}`,
    `rate limit: ${report.rateLimit ? `${JSON.stringify(report.rateLimit.rule)}, ${report.rateLimit.allowed} allowed, ${report.rateLimit.limited} limited` : "none"}`,
    "",
  ];
  for (const q of report.queues) {
    const c = q.counts;
    const day = q.last24h;
    lines.push(`queue ${q.name}${q.paused ? " (paused)" : ""}: ${JOB_STATES.map((s) => `${s} ${c[s]}`).join(", ")}`);
    lines.push(
      `  last 24 h: ${day.completed} completed, ${day.failed} failed, success ${day.successRate === null ? "n/a" : `${(day.successRate * 100).toFixed(1)}%`}, ` +
        `average ${day.averageDurationMs === null ? "n/a" : `${day.averageDurationMs} ms`}`,
    );
  }
  return lines.join("\n") + "\n";
}

const label = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

async function metrics({ conveyor, stats, rateLimit }: OpsContext): Promise<string> {
  const out = [
    "# HELP conveyor_queue_jobs Jobs in each state.",
    "# TYPE conveyor_queue_jobs gauge",
  ];
  const queues = [...conveyor.queues.values()];
  const counts = await Promise.all(queues.map((q) => q.counts()));
  queues.forEach((q, i) => {
    stats.watch(q);
    for (const [state, n] of Object.entries(counts[i]!)) out.push(`conveyor_queue_jobs{queue="${label(q.name)}",state="${state}"} ${n}`);
  });
  const counter = (name: string, help: string, pick: (t: ReturnType<ExecutionStats["totals"]>) => number) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const q of queues) out.push(`${name}{queue="${label(q.name)}"} ${pick(stats.totals(q.name))}`);
  };
  counter("conveyor_jobs_completed_total", "Jobs completed since this process started watching.", (t) => t.completed);
  counter("conveyor_jobs_failed_total", "Jobs failed for good since this process started watching.", (t) => t.failed);
  counter("conveyor_job_duration_milliseconds_sum", "Total run time of completed jobs.", (t) => t.durationMs);
  if (rateLimit) {
    out.push("# HELP conveyor_http_requests_limited_total Requests refused by the rate limit.", "# TYPE conveyor_http_requests_limited_total counter");
    out.push(`conveyor_http_requests_limited_total ${rateLimit.usage.limited}`);
  }
  return out.join("\n") + "\n";
}

/** Health (JSON, or text with ?format=text) and Prometheus metrics. */
export function opsRoutes(ops: OpsContext): Route[] {
  return [
    route({
      method: "get", path: "/health", tag: "operations", scope: "ops:read", summary: "Configuration, queues, rate-limit usage and the last 24 hours",
      query: v.strictObject({ format: v.optional(v.picklist(["json", "text"])) }),
      handle: async ({ c, query }) => {
        const report = await health(ops);
        return query.format === "text" ? c.text(asText(report)) : report;
      },
    }),
    route({
      method: "get", path: "/metrics", tag: "operations", scope: "ops:read", summary: "Prometheus text format",
      handle: async ({ c }) => c.text(await metrics(ops), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
    }),
  ];
}
