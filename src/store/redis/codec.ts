import type { Job, JobState, NewJob, RetentionRule } from "../../core/job.ts";

/** Fields of one job in the enqueue script's ARGV, in order ('' stands for null). */
export const NEW_JOB_WIDTH = 15;

const orEmpty = (value: string | number | null) => (value === null ? "" : String(value));

/** Job data must survive JSON; `undefined` travels as ''. */
export function toJson(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value);
}

export function encodeNewJob(job: NewJob): string[] {
  return [
    orEmpty(job.id),
    job.name,
    toJson(job.payload),
    String(job.priority),
    String(job.createdAt),
    String(job.runAt),
    String(job.maxAttempts),
    JSON.stringify(job.backoff),
    orEmpty(job.timeoutMs),
    orEmpty(job.dedupKey),
    orEmpty(job.removeOnComplete.count),
    orEmpty(job.removeOnComplete.ageMs),
    orEmpty(job.removeOnFail.count),
    orEmpty(job.removeOnFail.ageMs),
    job.deadLetter ? "1" : "0",
  ];
}

/** What the scripts return for a job: its hash as a flat field/value list, and its log lines. */
export type Snapshot = [flatHash: string[], logs: string[]];

const num = (value: string | undefined) => (value === undefined || value === "" ? null : Number(value));
const json = (value: string | undefined) => (value === undefined || value === "" ? undefined : JSON.parse(value));
const rule = (count: string | undefined, ageMs: string | undefined): RetentionRule => ({
  count: num(count),
  ageMs: num(ageMs),
});

export function decodeJob(queue: string, [flat, logs]: Snapshot): Job {
  const h: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  return {
    id: h.id!,
    queue,
    name: h.name!,
    payload: json(h.payload),
    state: h.state as JobState,
    priority: Number(h.priority),
    seq: Number(h.seq ?? 0),
    createdAt: Number(h.createdAt),
    runAt: Number(h.runAt),
    attemptsMade: Number(h.attemptsMade ?? 0),
    maxAttempts: Number(h.maxAttempts),
    backoff: JSON.parse(h.backoff!),
    timeoutMs: num(h.timeoutMs),
    dedupKey: h.dedupKey ? h.dedupKey : null,
    progress: json(h.progress) ?? null,
    logs,
    result: json(h.result),
    lastError: json(h.lastError) ?? null,
    startedAt: num(h.startedAt),
    finishedAt: num(h.finishedAt),
    lease: h.leaseToken
      ? { token: h.leaseToken, workerId: h.leaseWorker!, expiresAt: Number(h.leaseExpiresAt) }
      : null,
    stalls: Number(h.stalls ?? 0),
    removeOnComplete: rule(h.rcCount, h.rcAge),
    removeOnFail: rule(h.rfCount, h.rfAge),
    deadLetter: h.deadLetter === "1",
    dead: json(h.dead) ?? null,
  };
}

/** A job the enqueue script just created, built from what was sent rather than read back. */
export function createdJob(queue: string, input: NewJob, id: string, seq: number, state: JobState): Job {
  return {
    id,
    queue,
    name: input.name,
    payload: input.payload === undefined ? undefined : JSON.parse(JSON.stringify(input.payload)),
    state,
    priority: input.priority,
    seq,
    createdAt: input.createdAt,
    runAt: input.runAt,
    attemptsMade: 0,
    maxAttempts: input.maxAttempts,
    backoff: input.backoff,
    timeoutMs: input.timeoutMs,
    dedupKey: input.dedupKey,
    progress: null,
    logs: [],
    result: undefined,
    lastError: null,
    startedAt: null,
    finishedAt: null,
    lease: null,
    stalls: 0,
    removeOnComplete: input.removeOnComplete,
    removeOnFail: input.removeOnFail,
    deadLetter: input.deadLetter,
    dead: null,
  };
}
