/**
 * Audit cursors: `"<ms>-<seq>"`, the form Redis Stream ids take, assigned by the store on append.
 * A cursor's time is its entry's `at`, unless the log already holds a later cursor (another
 * process's batch got there first, or a clock is behind): then it takes that later time and the
 * next seq. So a cursor is never smaller than one appended before it, and a reader paging with
 * `after` never misses an entry appended behind its back.
 */

export interface CursorParts {
  readonly ms: number;
  readonly seq: number;
}

/** What the HTTP app and the query API accept as a cursor. */
export const CURSOR_PATTERN = /^\d{1,16}-\d{1,16}$/;

export function formatCursor({ ms, seq }: CursorParts): string {
  return `${ms}-${seq}`;
}

/** The parts of a cursor; a TypeError for anything that is not one. */
export function parseCursor(cursor: string): CursorParts {
  if (typeof cursor !== "string" || !CURSOR_PATTERN.test(cursor)) {
    throw new TypeError(`An audit cursor is "<ms>-<seq>" as the log handed it out, got ${JSON.stringify(String(cursor).slice(0, 40))}`);
  }
  const dash = cursor.indexOf("-");
  return { ms: Number(cursor.slice(0, dash)), seq: Number(cursor.slice(dash + 1)) };
}

export function compareCursors(a: CursorParts, b: CursorParts): number {
  return a.ms - b.ms || a.seq - b.seq;
}

/** The cursor of an entry at `at` appended after `last` (null: the log has never held one). */
export function nextCursor(last: CursorParts | null, at: number): CursorParts {
  const ms = Math.max(Math.floor(at), last?.ms ?? 0, 0);
  const seq = last !== null && ms === last.ms ? last.seq + 1 : 0;
  // 0-0 is not a valid Redis Stream id; no real clock gets there, but every store agrees anyway.
  return ms === 0 && seq === 0 ? { ms, seq: 1 } : { ms, seq };
}

/** Greatest seq a range bound uses: below Redis's 2^64 − 1, exact as a JS number. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** A list request as an inclusive range of cursors (null: open) and the end it is read from. */
export interface AuditRange {
  readonly low: CursorParts | null;
  readonly high: CursorParts | null;
  /** True for `after`: the `limit` entries from `low` up; else the `limit` entries from `high` down. */
  readonly fromLow: boolean;
  readonly limit: number;
  /** Nothing can match (low above high). */
  readonly empty: boolean;
}

/** Checks a list request and turns it into the range every store reads; TypeError/RangeError on a bad one. */
export function auditRange(request: {
  readonly before?: string;
  readonly after?: string;
  readonly limit: number;
  readonly from?: number;
  readonly to?: number;
}): AuditRange {
  const { before, after, limit, from, to } = request ?? {};
  if (before !== undefined && after !== undefined) throw new TypeError("listAudit takes `before` or `after`, not both");
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`listAudit needs a limit of at least 1, got ${limit}`);
  for (const [name, value] of [["from", from], ["to", to]] as const) {
    if (value !== undefined && !Number.isFinite(value)) throw new TypeError(`listAudit's ${name} is epoch ms, got ${value}`);
  }
  const candidatesLow = [
    from === undefined ? null : { ms: Math.max(0, Math.ceil(from)), seq: 0 },
    after === undefined ? null : successor(parseCursor(after)),
  ];
  const candidatesHigh = [
    to === undefined ? null : { ms: Math.floor(to), seq: MAX_SEQ },
    before === undefined ? null : predecessor(parseCursor(before)),
  ];
  const low = candidatesLow.reduce<CursorParts | null>((a, b) => (a === null ? b : b === null ? a : compareCursors(a, b) >= 0 ? a : b), null);
  const high = candidatesHigh.reduce<CursorParts | null>((a, b) => (a === null ? b : b === null ? a : compareCursors(a, b) <= 0 ? a : b), null);
  const empty = (high !== null && high.ms < 0) || (low !== null && high !== null && compareCursors(low, high) > 0);
  return { low, high, fromLow: after !== undefined, limit, empty };
}

function successor({ ms, seq }: CursorParts): CursorParts {
  return seq >= MAX_SEQ ? { ms: ms + 1, seq: 0 } : { ms, seq: seq + 1 };
}

function predecessor({ ms, seq }: CursorParts): CursorParts {
  return seq > 0 ? { ms, seq: seq - 1 } : { ms: ms - 1, seq: MAX_SEQ };
}

/** Checks a trim request: epoch ms and a whole number of entries. */
export function checkTrim(request: { readonly olderThan?: number; readonly keep?: number }): void {
  const { olderThan, keep } = request ?? {};
  if (olderThan !== undefined && !Number.isFinite(olderThan)) throw new TypeError(`trimAudit's olderThan is epoch ms, got ${olderThan}`);
  if (keep !== undefined && !(Number.isInteger(keep) && keep >= 0)) throw new RangeError(`trimAudit's keep is a whole number of entries, got ${keep}`);
}
