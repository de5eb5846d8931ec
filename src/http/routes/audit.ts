import * as v from "valibot";
import type { Conveyor } from "../../conveyor.ts";
import { CURSOR_PATTERN } from "../../core/audit-cursor.ts";
import { CONTENT_TYPES, encodeExport, EXPORT_FORMATS } from "../audit-export.ts";
import { type Caller, requireScope } from "../auth.ts";
import { readerView } from "../reader-access.ts";
import { type Grant, type Route, route } from "../route.ts";

const text = (max: number) => v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(max)));
/** Epoch ms, or an ISO 8601 date (`2026-01-01`, `2026-01-01T10:00:00Z`). */
const time = v.optional(v.pipe(
  v.string(),
  v.maxLength(40),
  v.check((s) => /^\d{1,16}$/.test(s) || (/^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s))), "epoch ms or an ISO 8601 date"),
  v.transform((s) => (/^\d+$/.test(s) ? Number(s) : Date.parse(s))),
));
const cursor = v.optional(v.pipe(v.string(), v.regex(CURSOR_PATTERN, 'a cursor "<ms>-<seq>" as `next` gave it')));

const Filters = {
  from: time,
  to: time,
  actor: text(256),
  action: text(100),
  outcome: v.optional(v.picklist(["ok", "failed", "refused"])),
  queue: text(200),
  job: text(200),
  schedule: text(200),
};

const PageQuery = v.pipe(
  v.strictObject({
    ...Filters,
    before: cursor,
    after: cursor,
    limit: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, "a whole number"), v.transform(Number), v.minValue(1), v.maxValue(1_000))),
  }),
  v.check((query) => query.before === undefined || query.after === undefined, "before or after, not both"),
);
const ExportQuery = v.strictObject({ ...Filters, format: v.optional(v.picklist(EXPORT_FORMATS)) });

/** The query's filters as the audit log names them (`job` and `schedule` in URLs, `jobId` and `scheduleId` in entries). */
const filter = ({ job, schedule, ...rest }: { job?: string; schedule?: string } & Record<string, unknown>) => ({
  ...rest,
  ...(job === undefined ? {} : { jobId: job }),
  ...(schedule === undefined ? {} : { scheduleId: schedule }),
});

/**
 * A limited grant: `audit:read@own` reads the caller's own entries (as actor); `@tenant` alone is
 * refused, entries name their actor's subject, not its tenant.
 */
function scoped<Q extends { actor?: string }>(query: Q, caller: Caller, grant: Grant): Q {
  if (grant.allRecords) return query;
  if (grant.subject === null) requireScope(caller, "audit:read", undefined, { allRecords: true });
  return { ...query, actor: grant.subject! };
}

/** The audit log: a page at a time, or everything matching as one streamed file. */
export function auditRoutes(conveyor: Conveyor): Route[] {
  return [
    route({
      method: "get", path: "/audit", tag: "audit", scope: "audit:read", summary: "Audit entries, newest first; `next` is the cursor of the page after",
      query: PageQuery,
      handle: async ({ query, caller, grant }) => await conveyor.audit.query(filter(scoped(query, caller, grant))),
    }),
    route({
      method: "get", path: "/audit/export", tag: "audit", scope: "audit:read", summary: "Every matching entry, newest first, streamed as JSON lines or CSV",
      query: ExportQuery,
      handle: ({ c, query, access, caller, grant }) => {
        const { format = "jsonl", ...rest } = scoped(query, caller, grant);
        // Entries were redacted as they were recorded; read through the redactor again, as every answer is.
        const body = encodeExport(conveyor.audit.export(filter(rest)), format, (entry) => readerView(conveyor.redactor, entry, access));
        return c.body(body, 200, {
          "Content-Type": CONTENT_TYPES[format],
          "Content-Disposition": `attachment; filename="audit.${format}"`,
        });
      },
    }),
  ];
}
