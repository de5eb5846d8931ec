import * as v from "valibot";
import type { AuditEntry, AuditOutcome } from "./audit-entry.ts";
import { CURSOR_PATTERN } from "./audit-cursor.ts";
import type { QueueStore } from "./store-contract.ts";

/** Which entries: every field given must match (time bounds inclusive, epoch ms). */
export interface AuditFilter {
  readonly from?: number;
  readonly to?: number;
  readonly actor?: string;
  readonly action?: string;
  readonly outcome?: AuditOutcome;
  readonly queue?: string;
  readonly jobId?: string;
  readonly scheduleId?: string;
}

export interface AuditQuery extends AuditFilter {
  /** The page after this one going back (the `next` of the page before). Not with `after`. */
  readonly before?: string;
  /** The page going forward from this cursor: the entries closest after it, still newest first. */
  readonly after?: string;
  /** @default 50, at most 1,000 */
  readonly limit?: number;
}

export interface AuditPage {
  /** Newest first. */
  readonly entries: AuditEntry[];
  /**
   * Where to go on in the same direction (`before: next`, or `after: next`), or null when the log
   * holds nothing more that way now. A page can be short and still have a `next`: a query reads
   * at most `MAX_AUDIT_SCAN` entries, so a filter that matches rarely answers in bounded time.
   */
  readonly next: string | null;
}

/** Entries one query reads from the store at most, matching or not. */
export const MAX_AUDIT_SCAN = 10_000;

const text = (max: number) => v.pipe(v.string(), v.minLength(1), v.maxLength(max));
const time = v.pipe(v.number(), v.finite());
const cursor = v.pipe(v.string(), v.regex(CURSOR_PATTERN, 'a cursor "<ms>-<seq>"'));

export const AuditFilterFields = {
  from: v.optional(time),
  to: v.optional(time),
  actor: v.optional(text(256)),
  action: v.optional(text(100)),
  outcome: v.optional(v.picklist(["ok", "failed", "refused"])),
  queue: v.optional(text(200)),
  jobId: v.optional(text(200)),
  scheduleId: v.optional(text(200)),
};

export const AuditQuerySchema = v.pipe(
  v.strictObject({
    ...AuditFilterFields,
    before: v.optional(cursor),
    after: v.optional(cursor),
    limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000))),
  }),
  v.check((query) => query.before === undefined || query.after === undefined, "before or after, not both"),
);

const FIELDS = ["actor", "action", "outcome", "queue", "jobId", "scheduleId"] as const;

function matcher(filter: AuditFilter): ((entry: AuditEntry) => boolean) | null {
  const wanted = FIELDS.filter((field) => filter[field] !== undefined);
  if (wanted.length === 0) return null;
  return (entry) => wanted.every((field) => entry[field] === filter[field]);
}

/**
 * A page of entries matching `query`, newest first. The store pages by cursor and time; the
 * other filters are applied here, reading on until the page is full, the log ends, or
 * `MAX_AUDIT_SCAN` entries were read.
 */
export async function queryAudit(store: QueueStore, query: AuditQuery): Promise<AuditPage> {
  const limit = query.limit ?? 50;
  const matches = matcher(query);
  const forward = query.after !== undefined;
  // Unfiltered, the store's page is the answer; filtered, read in larger pages.
  const pageSize = matches ? Math.min(1_000, Math.max(100, limit * 4)) : limit;
  const found: AuditEntry[] = [];
  let position = forward ? query.after : query.before;
  for (let scanned = 0; scanned < MAX_AUDIT_SCAN;) {
    const asked = Math.min(pageSize, MAX_AUDIT_SCAN - scanned);
    const page = await store.listAudit({
      ...(forward ? { after: position } : { before: position }),
      limit: asked,
      from: query.from,
      to: query.to,
    });
    scanned += page.length;
    // Forward pages are read from the oldest, so the entries kept are the ones closest to `after`.
    for (const entry of forward ? page.reverse() : page) {
      position = entry.cursor;
      if (matches && !matches(entry)) continue;
      found.push(entry);
      if (found.length === limit) return { entries: forward ? found.reverse() : found, next: entry.cursor };
    }
    if (page.length < asked) return { entries: forward ? found.reverse() : found, next: null };
  }
  return { entries: forward ? found.reverse() : found, next: position ?? null };
}

/**
 * Every entry matching `filter`, newest first, as a stream that reads one page per pull: an
 * export of a big log never holds more than a page in memory.
 */
export function exportAudit(store: QueueStore, filter: AuditFilter, flush: () => Promise<void>): ReadableStream<AuditEntry> {
  let before: string | undefined;
  let started = false;
  return new ReadableStream<AuditEntry>({
    async pull(controller) {
      if (!started) {
        started = true;
        await flush();
      }
      // Pages that match nothing (a rare filter) are read on until one does or the log ends.
      for (;;) {
        const page = await queryAudit(store, { ...filter, before, limit: 500 });
        for (const entry of page.entries) controller.enqueue(entry);
        if (page.next === null) return controller.close();
        before = page.next;
        if (page.entries.length > 0) return;
      }
    },
  }, { highWaterMark: 0 });
}
