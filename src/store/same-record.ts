/**
 * Whether a stored record is the one a compare-and-set expects. Records are compared as JSON
 * text, as the Redis store must (it keeps them as text), so every store agrees on what "the
 * same" means; an absent record and `null` are the same, as `getRecord` reports both as `null`.
 */
export function sameRecord(current: unknown, expected: unknown): boolean {
  return recordText(current) === recordText(expected);
}

/** A record's JSON text; `null` for none. */
export function recordText(value: unknown): string {
  return value === undefined ? "null" : JSON.stringify(value);
}
