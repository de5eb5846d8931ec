import type { AuditEntry, NewAuditEntry } from "../../core/audit-entry.ts";
import { auditRange, checkTrim, compareCursors, type CursorParts, formatCursor, nextCursor, parseCursor } from "../../core/audit-cursor.ts";
import type { AuditListRequest, AuditTrimRequest } from "../../core/store-contract.ts";

interface Held {
  readonly parts: CursorParts;
  /** JSON text: entries go in and out as copies, and the journal writes the same text. */
  readonly text: string;
}

/** What changed in the log since the last drain, for a store persisting it (the journal). */
export interface AuditChanges {
  readonly appended: readonly AuditEntry[];
  readonly removed: readonly string[];
  /** The greatest cursor ever given: kept so a restart never hands out a smaller one. */
  readonly last: string | null;
}

/**
 * The audit log in this process's memory: entries in cursor order (appends only ever add at
 * the end, and trims only ever take from the start), read by binary search.
 */
export class MemoryAudit {
  #entries: Held[] = [];
  #last: CursorParts | null = null;
  readonly #journal: { appended: AuditEntry[]; removed: string[]; dirty: boolean } | null;

  constructor(journal: boolean) {
    this.#journal = journal ? { appended: [], removed: [], dirty: false } : null;
  }

  append(entries: readonly NewAuditEntry[]): string[] {
    if (!Array.isArray(entries)) throw new TypeError("appendAudit expects an array of entries");
    const cursors: string[] = [];
    for (const entry of entries) {
      const parts = nextCursor(this.#last, entry.at);
      const cursor = formatCursor(parts);
      // The cursor spliced in as text: no copy of the entry is made to add it.
      const rest = JSON.stringify(entry).slice(1);
      const text = `{"cursor":"${cursor}"${rest === "}" ? "" : ","}${rest}`;
      this.#entries.push({ parts, text });
      this.#last = parts;
      cursors.push(cursor);
      if (this.#journal) {
        this.#journal.appended.push(JSON.parse(text));
        this.#journal.dirty = true;
      }
    }
    return cursors;
  }

  list(request: AuditListRequest): AuditEntry[] {
    const range = auditRange(request);
    if (range.empty) return [];
    const start = range.low === null ? 0 : this.#firstAtOrAbove(range.low);
    const end = range.high === null ? this.#entries.length : this.#firstAbove(range.high);
    if (start >= end) return [];
    const slice = range.fromLow
      ? this.#entries.slice(start, Math.min(end, start + range.limit))
      : this.#entries.slice(Math.max(start, end - range.limit), end);
    return slice.reverse().map((held) => JSON.parse(held.text) as AuditEntry);
  }

  trim(request: AuditTrimRequest): number {
    checkTrim(request);
    let drop = 0;
    if (request.olderThan !== undefined) drop = this.#firstAtOrAbove({ ms: Math.ceil(request.olderThan), seq: 0 });
    if (request.keep !== undefined) drop = Math.max(drop, this.#entries.length - request.keep);
    if (drop <= 0) return 0;
    const removed = this.#entries.splice(0, drop);
    if (this.#journal) {
      for (const held of removed) this.#journal.removed.push(formatCursor(held.parts));
      this.#journal.dirty = true;
    }
    return removed.length;
  }

  /** Changes since the last call (with a journal), or null when there are none. */
  drain(): AuditChanges | null {
    const journal = this.#journal;
    if (!journal?.dirty) return null;
    const changes = { appended: journal.appended.splice(0), removed: journal.removed.splice(0), last: this.#last && formatCursor(this.#last) };
    journal.dirty = false;
    return changes;
  }

  /** Loads stored entries (a restart), and the greatest cursor ever given. */
  restore(entries: readonly AuditEntry[], last: string | null): void {
    const held = entries.map((entry) => ({ parts: parseCursor(entry.cursor), text: JSON.stringify(entry) }));
    held.sort((a, b) => compareCursors(a.parts, b.parts));
    this.#entries = held;
    const greatest = [held.at(-1)?.parts, last === null ? undefined : parseCursor(last)]
      .filter((parts) => parts !== undefined)
      .sort(compareCursors)
      .at(-1);
    this.#last = greatest ?? null;
  }

  #firstAtOrAbove(key: CursorParts): number {
    return this.#search((parts) => compareCursors(parts, key) >= 0);
  }

  #firstAbove(key: CursorParts): number {
    return this.#search((parts) => compareCursors(parts, key) > 0);
  }

  /** The first index whose entry passes `above` (entries are in order, so that is where they start passing). */
  #search(above: (parts: CursorParts) => boolean): number {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (above(this.#entries[mid]!.parts)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
