import * as v from "valibot";
import { LIFECYCLE_CATEGORIES, type LifecycleCategory } from "./audit-entry.ts";
import { parseArgument } from "./validation.ts";

/** `createConveyor({ audit })`: what the audit log records, how it writes, how long it keeps entries. */
export interface AuditOptions {
  /** Record operator actions: every write and refusal of the HTTP app, and `cancel`/`retry` through the JS API. @default true */
  operator?: boolean;
  /**
   * Lifecycle categories to record, from the events of every queue this conveyor knows (from
   * every process sharing the store: turn them on in one process only, or each records them).
   * @default [] (none)
   */
  lifecycle?: readonly LifecycleCategory[];
  /** Entries buffered before they are written together. @default 100 */
  batchSize?: number;
  /** The longest an entry waits in the buffer. @default 1_000 */
  flushIntervalMs?: number;
  /** Entries older than this are deleted by the retention timer; `null` keeps them however old. @default 7_776_000_000 (90 days) */
  maxAgeMs?: number | null;
  /** At most this many entries are kept, the newest; `null` for no limit. @default 1_000_000 */
  maxEntries?: number | null;
  /** How often retention runs (first this long after the log opens). @default 3_600_000 (an hour) */
  retentionIntervalMs?: number;
  /** Entries held in memory while the store refuses writes; past it the oldest are dropped (and counted). @default 10_000 */
  maxBufferedEntries?: number;
}

export type ResolvedAuditOptions = Readonly<Required<AuditOptions>>;

export const AUDIT_DEFAULTS: ResolvedAuditOptions = Object.freeze({
  operator: true,
  lifecycle: Object.freeze([]) as readonly LifecycleCategory[],
  batchSize: 100,
  flushIntervalMs: 1_000,
  maxAgeMs: 90 * 86_400_000,
  maxEntries: 1_000_000,
  retentionIntervalMs: 3_600_000,
  maxBufferedEntries: 10_000,
});

const positive = v.pipe(v.number(), v.integer(), v.minValue(1));
const limitOrNull = v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0)));

export const AuditOptionsSchema = v.strictObject({
  operator: v.optional(v.boolean()),
  lifecycle: v.optional(v.pipe(v.array(v.picklist(LIFECYCLE_CATEGORIES)), v.maxLength(LIFECYCLE_CATEGORIES.length))),
  batchSize: v.optional(v.pipe(positive, v.maxValue(10_000))),
  flushIntervalMs: v.optional(positive),
  maxAgeMs: v.optional(limitOrNull),
  maxEntries: v.optional(limitOrNull),
  retentionIntervalMs: v.optional(positive),
  maxBufferedEntries: v.optional(positive),
});

/**
 * `audit` as createConveyor takes it: `true` for the defaults, an object to change some, and
 * `false` or nothing for no log (queries still read what other processes wrote). The caller's
 * object is read, never kept or changed.
 */
export function resolveAuditOptions(audit: AuditOptions | boolean | undefined): ResolvedAuditOptions | null {
  if (audit === undefined || audit === false) return null;
  if (audit === true) return AUDIT_DEFAULTS;
  const given = parseArgument(AuditOptionsSchema, audit, "audit options");
  const defined = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
  return Object.freeze({
    ...AUDIT_DEFAULTS,
    ...defined,
    lifecycle: Object.freeze([...new Set(given.lifecycle ?? AUDIT_DEFAULTS.lifecycle)]),
  }) as ResolvedAuditOptions;
}
