import type { AuditEntry, NewAuditEntry } from "../../core/audit-entry.ts";
import { auditRange, checkTrim, type CursorParts, formatCursor, nextCursor, parseCursor } from "../../core/audit-cursor.ts";
import type { AuditListRequest, AuditTrimRequest } from "../../core/store-contract.ts";
import { collect, counterValue, delta, type DenoKv, type KvKey, type KvListSelector, realPause } from "./kv.ts";

/** Entries per append commit: each is a few KiB at most, well within a commit's 800 KiB and 1,000 mutations. */
const APPEND_SLICE = 100;
/** Entries deleted per trim commit. */
const TRIM_SLICE = 500;

/**
 * The audit log in Deno KV. Entries sit under `[prefix, "audit", "e", ms, seq]`, so keys sort as
 * cursors do and a page is one `list` (reversed for newest first). Beside them:
 * - `last`, the greatest cursor ever given: each append commit checks it, so two processes
 *   appending at once never give out one cursor twice or a smaller one after a greater;
 * - `n`, how many entries there are (a counter each commit moves), for trimming by count;
 * - `trim`, bumped by each trim commit, which checks it: two processes trimming at once never
 *   both count the same deletions.
 */
export class KvAudit {
  readonly #kv: DenoKv;
  readonly #base: KvKey;
  readonly #entries: KvKey;

  constructor(kv: DenoKv, prefix: string) {
    this.#kv = kv;
    this.#base = [prefix, "audit"];
    this.#entries = [prefix, "audit", "e"];
  }

  async append(entries: readonly NewAuditEntry[]): Promise<string[]> {
    if (!Array.isArray(entries)) throw new TypeError("appendAudit expects an array of entries");
    const cursors: string[] = [];
    for (let start = 0; start < entries.length; start += APPEND_SLICE) {
      cursors.push(...await this.#appendSlice(entries.slice(start, start + APPEND_SLICE)));
    }
    return cursors;
  }

  async list(request: AuditListRequest): Promise<AuditEntry[]> {
    const range = auditRange(request);
    if (range.empty) return [];
    const start = range.low && [...this.#entries, range.low.ms, range.low.seq];
    // End keys are exclusive: the next seq after the highest one wanted.
    const end = range.high && [...this.#entries, range.high.ms, range.high.seq + 1];
    const selector: KvListSelector = start && end ? { start, end } : start ? { prefix: this.#entries, start } : end ? { prefix: this.#entries, end } : { prefix: this.#entries };
    const rows = await collect(this.#kv.list<NewAuditEntry>(selector, { limit: range.limit, reverse: !range.fromLow }));
    if (range.fromLow) rows.reverse();
    return rows.map((row) => ({ ...row.value, cursor: formatCursor({ ms: row.key[3] as number, seq: row.key[4] as number }) }));
  }

  async trim(request: AuditTrimRequest): Promise<number> {
    checkTrim(request);
    const { olderThan, keep } = request;
    if (olderThan === undefined && keep === undefined) return 0;
    let removed = 0;
    for (;;) {
      const gate = await this.#kv.get<number>([...this.#base, "trim"]);
      const count = counterValue((await this.#kv.get([...this.#base, "n"])).value);
      const oldest = await collect(this.#kv.list({ prefix: this.#entries }, { limit: TRIM_SLICE }));
      // The count only grows behind this read (appends), so trimming by it never takes too many.
      let n = 0;
      for (const row of oldest) {
        const old = olderThan !== undefined && (row.key[3] as number) < olderThan;
        const over = keep !== undefined && count - n > keep;
        if (!old && !over) break;
        n++;
      }
      if (n === 0) return removed;
      const op = this.#kv.atomic().check(gate).set([...this.#base, "trim"], (gate.value ?? 0) + 1).sum([...this.#base, "n"], delta(-n));
      for (const row of oldest.slice(0, n)) op.delete(row.key);
      if ((await op.commit()).ok) removed += n;
      else await realPause(1 + Math.random() * 5); // another trim went first: read again
    }
  }

  async #appendSlice(slice: readonly NewAuditEntry[]): Promise<string[]> {
    for (;;) {
      const last = await this.#kv.get<string>([...this.#base, "last"]);
      let parts: CursorParts | null = last.value === null ? null : parseCursor(last.value);
      const op = this.#kv.atomic().check(last);
      const cursors: string[] = [];
      for (const entry of slice) {
        parts = nextCursor(parts, entry.at);
        op.set([...this.#entries, parts.ms, parts.seq], entry);
        cursors.push(formatCursor(parts));
      }
      if (parts === null) return [];
      op.set([...this.#base, "last"], formatCursor(parts)).sum([...this.#base, "n"], delta(slice.length));
      if ((await op.commit()).ok) return cursors;
      await realPause(1 + Math.random() * 5); // another process appended first: take the cursors after its
    }
  }
}
