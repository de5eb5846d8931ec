/**
 * What one audit entry says: when, who, from where, what, on which queue, job or schedule, and
 * how it ended. Entries are plain JSON, so every store keeps them as they are.
 */

/** Who acted: a token's subject or a `by` given to the JS API, a schedule, the system itself, or nobody known. */
export type AuditActorType = "user" | "schedule" | "system" | "anonymous";

/** How the action ended: done, tried and failed (a missing job, a wrong state), or refused (authentication, authorisation). */
export type AuditOutcome = "ok" | "failed" | "refused";

/** Actions an operator takes, over HTTP or through the JS API. */
export type OperatorAction =
  | "job.enqueue" | "job.bulk" | "job.cancel" | "job.retry" | "job.remove"
  | "queue.pause" | "queue.resume" | "dead.retry" | "dead.purge"
  | "schedule.create" | "schedule.update" | "schedule.delete" | "schedule.pause" | "schedule.resume" | "schedule.trigger"
  | "chain.create" | "flow.create" | "batch.create"
  | "auth.refused" | "auth.forbidden";

export const OPERATOR_ACTIONS: readonly OperatorAction[] = Object.freeze([
  "job.enqueue", "job.bulk", "job.cancel", "job.retry", "job.remove",
  "queue.pause", "queue.resume", "dead.retry", "dead.purge",
  "schedule.create", "schedule.update", "schedule.delete", "schedule.pause", "schedule.resume", "schedule.trigger",
  "chain.create", "flow.create", "batch.create",
  "auth.refused", "auth.forbidden",
] as const);

/** Lifecycle categories, each off unless listed in `audit.lifecycle`. */
export type LifecycleCategory = "started" | "completed" | "failed" | "dead" | "stalled" | "scheduled";
export const LIFECYCLE_CATEGORIES: readonly LifecycleCategory[] = Object.freeze(["started", "completed", "failed", "dead", "stalled", "scheduled"] as const);

/** Known actions, and any other name an application records itself (`audit.record`). */
export type AuditAction = OperatorAction | `job.${LifecycleCategory}` | (string & {});

/** An entry before the store has placed it in the log. */
export interface NewAuditEntry {
  /** When it happened (epoch ms, the conveyor's clock). */
  readonly at: number;
  /** A token's subject, `schedule:<id>`, `system`, or `anonymous`. */
  readonly actor: string;
  readonly actorType: AuditActorType;
  /** The client's address, as the HTTP app's `trustProxy` setting reads it; null outside HTTP. */
  readonly ip: string | null;
  /** The request's X-Request-Id (the client's, or one the app made); null outside HTTP. */
  readonly requestId: string | null;
  readonly action: AuditAction;
  readonly queue: string | null;
  readonly jobId: string | null;
  readonly scheduleId: string | null;
  readonly outcome: AuditOutcome;
  /** A few facts about the action (an error code, a count, the scope needed), at most `MAX_AUDIT_DETAIL_CHARS` as JSON. */
  readonly details: Readonly<Record<string, unknown>> | null;
}

/** An entry as the log holds it: with the cursor the store gave it. */
export interface AuditEntry extends NewAuditEntry {
  /** The store's place for it, `"<ms>-<seq>"`: later appends get greater cursors (see audit-cursor.ts). */
  readonly cursor: string;
}

/** Longest `details` kept, as JSON text; bigger ones are replaced by a note saying so. */
export const MAX_AUDIT_DETAIL_CHARS = 2_048;

/** What a caller gives `record`: the action, and whatever else it knows (the rest defaults). */
export interface AuditRecord {
  readonly action: AuditAction;
  /** @default "system" */
  readonly actor?: string;
  /** @default "user" when `actor` is given, else "system" */
  readonly actorType?: AuditActorType;
  readonly ip?: string | null;
  readonly requestId?: string | null;
  readonly queue?: string | null;
  readonly jobId?: string | null;
  readonly scheduleId?: string | null;
  /** @default "ok" */
  readonly outcome?: AuditOutcome;
  readonly details?: Readonly<Record<string, unknown>> | null;
  /** @default the clock's now */
  readonly at?: number;
}

/** Where the queue sends the operator actions of its JS API (cancel, retry); the conveyor's audit log. */
export interface AuditSink {
  record(entry: AuditRecord): void;
}

/** Caps free text (an actor, an id from a header) so no entry grows without bound. */
const clip = (text: string | null | undefined, max = 256): string | null => (text == null ? null : String(text).slice(0, max));

/** Takes secrets out of a JSON value (the conveyor's redactor: `redactor.json`). */
export type Redact = <T>(value: T) => T;

/**
 * A record completed into an entry: defaults filled, text clipped, details kept small. Details
 * pass through `redact` first when one is given. (The HTTP app keeps no client request id the
 * redactor would change, so ids need no pass of their own.)
 */
export function completeEntry(record: AuditRecord, now: number, redact?: Redact): NewAuditEntry {
  const actor = clip(record.actor) ?? "system";
  const actorType = record.actorType ?? (record.actor === undefined ? "system" : "user");
  return {
    at: record.at ?? now,
    actor,
    actorType,
    ip: clip(record.ip, 100),
    requestId: clip(record.requestId, 200),
    action: clip(record.action, 100)!,
    queue: clip(record.queue, 200),
    jobId: clip(record.jobId, 200),
    scheduleId: clip(record.scheduleId, 200),
    outcome: record.outcome ?? "ok",
    details: smallDetails(record.details ?? null, redact),
  };
}

function smallDetails(details: Readonly<Record<string, unknown>> | null, redact?: Redact): Record<string, unknown> | null {
  if (details === null) return null;
  let text: string;
  try {
    text = JSON.stringify(redact ? redact(details) : details);
  } catch {
    return { omitted: "details could not be written as JSON" };
  }
  // A copy through JSON: the entry never shares objects with the caller, and every store keeps the same thing.
  return text.length <= MAX_AUDIT_DETAIL_CHARS ? JSON.parse(text) : { omitted: `details of ${text.length} characters (over ${MAX_AUDIT_DETAIL_CHARS})` };
}
