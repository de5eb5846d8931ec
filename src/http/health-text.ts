// The /health document as text: `GET /health?format=text` and `conveyor health` print the same.
import type { HealthReport, QueueHealth } from "../core/health.ts";
import { JOB_STATES } from "../core/job.ts";
import type { RateLimitRule } from "../core/rate-limit-rules.ts";

/** What /health answers: the conveyor's report, with what only the HTTP app knows. */
export type HealthDocument = HealthReport & {
  readonly configuration: HealthReport["configuration"] & { readonly auth?: boolean };
  readonly rateLimit?: {
    readonly rule: RateLimitRule;
    readonly sharedAcrossProcesses: boolean;
    readonly allowed: number;
    readonly limited: number;
    /** The caller's own use of it now (null when the backend cannot tell, or did not answer in time). */
    readonly current: number | null;
    readonly max: number;
    readonly percent: number | null;
  } | null;
};

const percent = (rate: number | null) => rate === null ? "n/a" : `${(rate * 100).toFixed(1)}%`;
const ms = (value: number | null) => value === null ? "n/a" : `${value} ms`;

function ruleText(rule: RateLimitRule): string {
  return rule.algorithm === "token-bucket"
    ? `token bucket of ${rule.capacity}, ${rule.refillPerSecond}/s`
    : `${rule.limit} per ${rule.windowMs} ms (${rule.algorithm})`;
}

function queueLines(q: QueueHealth): string[] {
  const lines: string[] = [];
  const counts = q.counts ? JOB_STATES.map((s) => `${s} ${q.counts![s]}`).join(", ") : "counts n/a";
  lines.push(`queue ${q.name}${q.paused ? " (paused)" : ""}: ${counts}`);
  for (const job of q.configuration.jobs) {
    const backoff = job.backoff.type === "custom" ? "custom" : `${job.backoff.type} ${job.backoff.delayMs} ms`;
    lines.push(
      `  job ${job.name}: attempts ${job.attempts}, backoff ${backoff}, timeout ${ms(job.timeoutMs)}, dead-letter ${job.deadLetter ? "on" : "off"}`,
    );
  }
  for (const limit of q.configuration.rateLimits) {
    const use = limit.current === null ? `max ${limit.max}` : `${limit.current}/${limit.max} (${limit.percent}%)`;
    lines.push(`  rate limit (worker ${limit.worker}, ${limit.scope}${limit.sharedAcrossProcesses ? ", shared" : ""}): ${ruleText(limit.rule)}: ${use}`);
  }
  const day = q.last24h;
  if (day) {
    lines.push(
      `  last 24 h: ${day.completed} completed, ${day.failed} failed, success ${percent(day.successRate)}, failure ${percent(day.failureRate)}, ` +
        `${day.executions} executions (${day.retried} retried), average ${ms(day.averageDurationMs)}, p95 ${ms(day.p95DurationMs)}`,
    );
  } else if (!q.unavailable.includes("last24h")) {
    lines.push("  last 24 h: not kept (statsFlushMs: false)");
  }
  if (q.unavailable.length > 0) lines.push(`  no answer in time: ${q.unavailable.join(", ")}`);
  return lines;
}

export function healthText(report: HealthDocument): string {
  const c = report.configuration;
  const lines = [`status: ${report.status} at ${report.time} (${report.durationMs} ms)`, "checks:"];
  const width = Math.max(...Object.keys(report.checks).map((name) => name.length));
  for (const [name, check] of Object.entries(report.checks)) {
    const label = `${name.padEnd(width)}  ${check.status.padEnd(8)} ${`${check.durationMs} ms`.padStart(8)}`;
    lines.push(`  ${label}${check.critical ? "" : " (not critical)"}${check.message ? `  ${check.message}` : ""}`);
  }
  lines.push(
    `store: ${c.store} (${Object.entries(c.capabilities).map(([k, v]) => `${k}=${v}`).join(", ")})`,
    ...(c.auth === undefined ? [] : [`auth: ${c.auth ? "on" : "OFF"}`]),
    `workers: ${c.workers.map((w) => `${w.queues.join("+")}×${w.concurrency} (${w.active} active)`).join(", ") || "none in this process"}`,
  );
  if (report.rateLimit !== undefined) {
    const r = report.rateLimit;
    const yours = r && r.current !== null ? `, yours ${r.current}/${r.max} (${r.percent}%)` : "";
    lines.push(`rate limit (HTTP): ${r ? `${ruleText(r.rule)}${yours}, ${r.allowed} allowed, ${r.limited} limited since start` : "none"}`);
  }
  lines.push(`figures: ${c.statsFlushMs === null ? "off" : `hourly buckets in the store, written every ${c.statsFlushMs} ms by each process`}`, "");
  for (const q of report.queues) lines.push(...queueLines(q));
  return lines.join("\n") + "\n";
}
