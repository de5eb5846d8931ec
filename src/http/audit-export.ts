import type { AuditEntry } from "../core/audit-entry.ts";

export const EXPORT_FORMATS = ["jsonl", "csv"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = Object.freeze({
  jsonl: "application/x-ndjson; charset=utf-8",
  csv: "text/csv; charset=utf-8",
});

const COLUMNS = ["cursor", "at", "time", "actor", "actorType", "action", "outcome", "queue", "jobId", "scheduleId", "ip", "requestId", "details"] as const;

/**
 * One CSV cell (RFC 4180 quoting). A cell a spreadsheet would run as a formula (=, +, -, @, tab,
 * CR) gets a leading `'`: ids and actors can come from anyone who can reach the API.
 */
function cell(value: unknown): string {
  let text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRow(entry: AuditEntry): string {
  const row: Record<(typeof COLUMNS)[number], unknown> = { ...entry, time: new Date(entry.at).toISOString() };
  return COLUMNS.map((column) => cell(row[column])).join(",") + "\r\n";
}

/** Entries to bytes, one line each (a CSV header first), as they arrive: nothing is held but the line being written. */
export function encodeExport(entries: ReadableStream<AuditEntry>, format: ExportFormat, read: (entry: AuditEntry) => AuditEntry): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return entries.pipeThrough(new TransformStream<AuditEntry, Uint8Array>({
    start(controller) {
      if (format === "csv") controller.enqueue(encoder.encode(COLUMNS.join(",") + "\r\n"));
    },
    transform(stored, controller) {
      const entry = read(stored);
      controller.enqueue(encoder.encode(format === "csv" ? csvRow(entry) : JSON.stringify(entry) + "\n"));
    },
  }));
}
