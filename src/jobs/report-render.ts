import type { QueueReport } from "./report.ts";

/** A report as JSON, CSV or a small HTML page, and how to send it on. */

export type ReportFormat = "json" | "csv" | "html";

export interface RenderedReport {
  readonly format: ReportFormat;
  readonly contentType: string;
  readonly body: string;
}

const CONTENT_TYPES: Record<ReportFormat, string> = {
  json: "application/json",
  csv: "text/csv; charset=utf-8",
  html: "text/html; charset=utf-8",
};

export function renderReport(report: QueueReport, format: ReportFormat): RenderedReport {
  const body = format === "json" ? JSON.stringify(report, null, 2) : format === "csv" ? reportCsv(report) : reportHtml(report);
  return { format, contentType: CONTENT_TYPES[format], body };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One row per figure: `section,queue,key,value,detail`. */
function rows(report: QueueReport): string[][] {
  const out: string[][] = [["section", "queue", "key", "value", "detail"]];
  for (const q of report.queues) {
    for (const [state, n] of Object.entries(q.counts)) out.push(["counts", q.queue, state, String(n), ""]);
    const figures: [string, unknown][] = [
      ["executions", q.executions], ["completed", q.completed], ["failed", q.failed], ["cancelled", q.cancelled],
      ["successRate", q.successRate], ["throughputPerHour", q.throughputPerHour],
      ["averageMs", q.durations?.averageMs], ["p95Ms", q.durations?.p95Ms], ["maxMs", q.durations?.maxMs], ["truncated", q.truncated],
    ];
    for (const [key, value] of figures) out.push(["period", q.queue, key, value === null || value === undefined ? "" : String(value), ""]);
    for (const e of q.topErrors) out.push(["error", q.queue, e.error, String(e.count), e.message]);
    for (const s of q.slowest) out.push(["slowest", q.queue, s.id, String(s.durationMs), `${s.name} at ${iso(s.finishedAt)}`]);
  }
  return out;
}

/**
 * RFC 4180 quoting; a cell starting with = + - @ (or a tab / CR) gets a leading apostrophe so a
 * spreadsheet does not run an error message as a formula.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) && !/^-?\d/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function reportCsv(report: QueueReport): string {
  return rows(report).map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

function table(head: readonly string[], body: readonly (readonly unknown[])[]): string {
  const cell = (tag: string, v: unknown) => `<${tag}>${escapeHtml(v === null || v === undefined ? "" : String(v))}</${tag}>`;
  return `<table><thead><tr>${head.map((h) => cell("th", h)).join("")}</tr></thead><tbody>${
    body.map((row) => `<tr>${row.map((v) => cell("td", v)).join("")}</tr>`).join("")
  }</tbody></table>`;
}

/** A self-contained page (no script, no external resource); every value escaped. */
export function reportHtml(report: QueueReport): string {
  const sections = report.queues.map((q) => {
    const rate = q.successRate === null ? "–" : `${(q.successRate * 100).toFixed(1)}%`;
    return `<section><h2>${escapeHtml(q.queue)}</h2>` +
      table(Object.keys(q.counts), [Object.values(q.counts)]) +
      table(["executions", "completed", "failed", "cancelled", "success", "per hour", "average ms", "p95 ms", "max ms"], [[
        q.executions, q.completed, q.failed, q.cancelled, rate, q.throughputPerHour, q.durations?.averageMs, q.durations?.p95Ms, q.durations?.maxMs,
      ]]) +
      (q.topErrors.length ? `<h3>Top failures</h3>` + table(["error", "count", "latest message", "last at"], q.topErrors.map((e) => [e.error, e.count, e.message, iso(e.lastAt)])) : "") +
      (q.slowest.length ? `<h3>Slowest</h3>` + table(["job", "name", "ms", "finished"], q.slowest.map((s) => [s.id, s.name, s.durationMs, iso(s.finishedAt)])) : "") +
      (q.truncated ? `<p>Only the newest jobs were read: figures are a lower bound.</p>` : "") +
      `</section>`;
  });
  const title = `Conveyor report ${iso(report.from)} – ${iso(report.to)}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}</style>` +
    `</head><body><h1>${escapeHtml(title)}</h1>${sections.join("")}</body></html>`;
}

/** Where a rendered report goes: a function of yours, or a URL it is POSTed to. */
export type ReportDelivery = ((report: RenderedReport) => unknown) | { readonly url: string; readonly headers?: Readonly<Record<string, string>> };

/** Sends a rendered report on; a POST that is not answered 2xx throws (so the job retries). */
export async function deliverReport(report: RenderedReport, to: ReportDelivery, signal?: AbortSignal): Promise<void> {
  if (typeof to === "function") {
    await to(report);
    return;
  }
  const response = await fetch(to.url, { method: "POST", headers: { ...to.headers, "content-type": report.contentType }, body: report.body, signal });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`report delivery answered ${response.status}`);
}
