import type { Context } from "hono";
import * as v from "valibot";
import type { Conveyor } from "../../conveyor.ts";
import { NameSchema } from "../../core/names.ts";
import { valueOr, within } from "../../core/health-deadline.ts";
import type { RateLimiter } from "../../core/rate-limiter.ts";
import { ruleLimit } from "../../core/rate-limit-rules.ts";
import type { Caller } from "../auth.ts";
import { type HealthDocument, healthText } from "../health-text.ts";
import { declaredQueue } from "../queues.ts";
import type { RateLimitUsage } from "../rate-limit.ts";
import { type AppEnv, type Route, route } from "../route.ts";
import type { ExecutionStats } from "../stats.ts";

export interface OpsContext {
  readonly conveyor: Conveyor;
  readonly stats: ExecutionStats;
  readonly authEnabled: boolean;
  readonly rateLimit: {
    readonly limiter: RateLimiter;
    /** Whom a request counts against: health shows the caller its own use. */
    readonly keyOf: (c: Context<AppEnv>, caller: Caller) => string;
    readonly shared: boolean;
    readonly usage: RateLimitUsage;
  } | null;
}

/**
 * The conveyor's report with what only the app knows: whether auth is on, and the HTTP rate
 * limit (the caller's own use of it, read within the health deadline beside the report).
 */
async function health({ conveyor, authEnabled, rateLimit }: OpsContext, c: Context<AppEnv>, caller: Caller, queue: string | undefined): Promise<HealthDocument> {
  if (queue !== undefined) declaredQueue(conveyor, queue); // 404, as every route naming a queue
  const yours = rateLimit && within(conveyor.clock, () => rateLimit.limiter.usage(rateLimit.keyOf(c, caller)), conveyor.health.deadlineMs);
  const [report, use] = await Promise.all([conveyor.health.report({ queue }), yours]);
  const read = use ? valueOr(use, null) : null;
  return {
    ...report,
    configuration: { ...report.configuration, auth: authEnabled },
    rateLimit: rateLimit && {
      rule: rateLimit.limiter.rule,
      sharedAcrossProcesses: rateLimit.shared,
      allowed: rateLimit.usage.allowed,
      limited: rateLimit.usage.limited,
      current: read?.used ?? null,
      max: ruleLimit(rateLimit.limiter.rule),
      percent: read ? Math.round((read.used / read.limit) * 1000) / 10 : null,
    },
  };
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

/**
 * Health (JSON, or text with ?format=text; 503 when down, answered within the health deadline
 * whatever hangs) and Prometheus metrics.
 */
export function opsRoutes(ops: OpsContext): Route[] {
  return [
    route({
      method: "get", path: "/health", tag: "operations", scope: "ops:read",
      summary: "Dependency checks (503 when down), configuration in force, queues and the last 24 hours; ?queue= for one",
      query: v.strictObject({ format: v.optional(v.picklist(["json", "text"])), queue: v.optional(NameSchema) }),
      handle: async ({ c, query, caller, access }) => {
        // Answered as a Response, so redacted here (a check's message may quote a connection URL).
        const report = ops.conveyor.redactor.forReader(await health(ops, c, caller, query.queue), access);
        const status = report.status === "down" ? 503 : 200;
        return query.format === "text" ? c.text(healthText(report), status) : c.json(report, status);
      },
    }),
    route({
      method: "get", path: "/metrics", tag: "operations", scope: "ops:read", summary: "Prometheus text format",
      handle: async ({ c }) => c.text(await metrics(ops), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
    }),
  ];
}
