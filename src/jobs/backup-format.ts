import * as v from "valibot";
import { ConveyorError, type ValidationIssue } from "../core/errors.ts";
import { JOB_STATES, type Job } from "../core/job.ts";
import { NameSchema } from "../core/names.ts";
import { MAX_PRIORITY } from "../core/priority.ts";
import type { NewAuditEntry } from "../core/audit-entry.ts";
import { describeIssues, summarise } from "../core/validation.ts";

/**
 * The archive: gzip-compressed JSON lines. The first line names the format and its version, the
 * last one counts what came before it, so a truncated archive is told from a short one.
 *
 *   {"kind":"conveyor-backup","version":1,"createdAt":…}
 *   {"kind":"queue","name":"emails","paused":false}
 *   {"kind":"job","job":{…the Job record…}}          one per job: finished states (oldest first), then pending
 *   {"kind":"record","namespace":"schedules","key":"nightly","value":{…}}
 *   {"kind":"audit","entry":{…}}                     oldest first
 *   {"kind":"end","queues":1,"jobs":…,"records":…,"audit":…}
 */
export const BACKUP_FORMAT = "conveyor-backup";
export const BACKUP_VERSION = 1;

/** A bad archive: `line` is the 1-based line that was wrong (or where the archive ended too soon). */
export class BackupFormatError extends ConveyorError {
  readonly line: number;

  constructor(line: number, problem: string, issues?: readonly ValidationIssue[]) {
    super("VALIDATION_FAILED", `Backup line ${line}: ${problem}`, issues ? { issues } : {});
    this.line = line;
  }
}

const int = v.pipe(v.number(), v.integer());
const nonNegative = v.pipe(int, v.minValue(0));
const time = v.pipe(v.number(), v.finite());
const nullableTime = v.nullable(time);

const ErrorInfoSchema = v.object({
  name: v.string(),
  message: v.string(),
  code: v.optional(v.string()),
  stack: v.optional(v.string()),
});

const RetentionRuleSchema = v.object({ count: v.nullable(nonNegative), ageMs: v.nullable(nonNegative) });

const StoredBackoffSchema = v.variant("type", [
  v.object({ type: v.literal("fixed"), delayMs: nonNegative }),
  v.object({ type: v.literal("exponential"), delayMs: nonNegative, maxDelayMs: v.nullable(nonNegative), jitter: v.number() }),
  v.object({ type: v.literal("custom") }),
]);

/** The job record as stores hand it out (see core/job.ts); payloads and results stay opaque JSON. */
const JobSchema = v.object({
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(512)),
  queue: NameSchema,
  name: NameSchema,
  payload: v.unknown(),
  state: v.picklist(JOB_STATES),
  priority: v.pipe(nonNegative, v.maxValue(MAX_PRIORITY)),
  seq: v.number(),
  createdAt: time,
  runAt: time,
  attemptsMade: nonNegative,
  maxAttempts: v.pipe(int, v.minValue(1)),
  backoff: StoredBackoffSchema,
  timeoutMs: v.nullable(v.pipe(int, v.minValue(1))),
  dedupKey: v.nullable(v.pipe(v.string(), v.minLength(1), v.maxLength(512))),
  progress: v.unknown(),
  logs: v.array(v.string()),
  result: v.optional(v.unknown()),
  lastError: v.nullable(ErrorInfoSchema),
  startedAt: nullableTime,
  finishedAt: nullableTime,
  lease: v.nullable(v.unknown()),
  stalls: nonNegative,
  removeOnComplete: RetentionRuleSchema,
  removeOnFail: RetentionRuleSchema,
  deadLetter: v.boolean(),
  dead: v.nullable(v.object({
    reason: v.picklist(["attempts-exhausted", "stalled", "unrecoverable", "child-failed"]),
    at: time,
    attempts: nonNegative,
    queue: v.string(),
    error: v.nullable(ErrorInfoSchema),
  })),
  createdBy: v.nullable(v.string()),
  changedBy: v.nullable(v.object({ action: v.picklist(["cancel", "retry"]), by: v.string(), at: time })),
  steps: v.optional(v.record(v.string(), v.unknown()), {}),
  flow: v.optional(v.nullable(v.looseObject({})), null),
});

const AuditEntrySchema = v.object({
  at: time,
  actor: v.string(),
  actorType: v.picklist(["user", "schedule", "system", "anonymous"]),
  ip: v.nullable(v.string()),
  requestId: v.nullable(v.string()),
  action: v.pipe(v.string(), v.minLength(1)),
  queue: v.nullable(v.string()),
  jobId: v.nullable(v.string()),
  scheduleId: v.nullable(v.string()),
  outcome: v.picklist(["ok", "failed", "refused"]),
  details: v.nullable(v.record(v.string(), v.unknown())),
});

const HeaderSchema = v.object({ kind: v.literal(BACKUP_FORMAT), version: v.number(), createdAt: time });
const count = nonNegative;

const BodyLineSchema = v.variant("kind", [
  v.object({ kind: v.literal("queue"), name: NameSchema, paused: v.boolean() }),
  v.object({ kind: v.literal("job"), job: JobSchema }),
  v.object({ kind: v.literal("record"), namespace: v.pipe(v.string(), v.minLength(1)), key: v.pipe(v.string(), v.minLength(1)), value: v.unknown() }),
  v.object({ kind: v.literal("audit"), entry: AuditEntrySchema }),
  v.object({ kind: v.literal("end"), queues: count, jobs: count, records: count, audit: count }),
]);

export type BackupHeader = v.InferOutput<typeof HeaderSchema>;
export type BackupLine =
  | { readonly kind: "queue"; readonly name: string; readonly paused: boolean }
  | { readonly kind: "job"; readonly job: Job }
  | { readonly kind: "record"; readonly namespace: string; readonly key: string; readonly value: unknown }
  | { readonly kind: "audit"; readonly entry: NewAuditEntry }
  | { readonly kind: "end"; readonly queues: number; readonly jobs: number; readonly records: number; readonly audit: number };

/** What an archive holds, as its end line counts it. */
export interface BackupCounts {
  queues: number;
  jobs: number;
  records: number;
  audit: number;
}

function parseJson(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BackupFormatError(line, "not a JSON value (a corrupt or cut line)");
  }
}

export function parseHeader(text: string, line: number): BackupHeader {
  const value = parseJson(text, line);
  const result = v.safeParse(HeaderSchema, value);
  if (!result.success) throw new BackupFormatError(line, `not a Conveyor backup header (expected {"kind":"${BACKUP_FORMAT}","version":${BACKUP_VERSION},…})`);
  if (result.output.version !== BACKUP_VERSION) {
    throw new BackupFormatError(line, `backup version ${result.output.version} is not supported (expected ${BACKUP_VERSION})`);
  }
  return result.output;
}

export function parseLine(text: string, line: number): BackupLine {
  const result = v.safeParse(BodyLineSchema, parseJson(text, line));
  if (!result.success) {
    const issues = describeIssues(result.issues);
    throw new BackupFormatError(line, summarise(issues), issues);
  }
  return result.output as BackupLine;
}
