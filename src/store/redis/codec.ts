import { initialJob, type Job, type JobState, type NewJob } from "../../core/job.ts";

/** Fields of one job in the enqueue script's ARGV. */
export const NEW_JOB_WIDTH = 7;

const orEmpty = (value: string | number | null) => (value === null ? "" : String(value));

/** Job data must survive JSON; `undefined` travels as ''. */
export function toJson(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value);
}

/** The immutable part of a job, stored as one JSON field that only JavaScript reads. */
type JobData = Pick<
  Job,
  | "name"
  | "payload"
  | "priority"
  | "createdAt"
  | "maxAttempts"
  | "backoff"
  | "timeoutMs"
  | "dedupKey"
  | "removeOnComplete"
  | "removeOnFail"
  | "deadLetter"
  | "createdBy"
>;

export function encodeNewJob(job: NewJob): string[] {
  const data: JobData = {
    name: job.name,
    payload: job.payload,
    priority: job.priority,
    createdAt: job.createdAt,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    dedupKey: job.dedupKey,
    removeOnComplete: job.removeOnComplete,
    removeOnFail: job.removeOnFail,
    deadLetter: job.deadLetter,
    createdBy: job.createdBy,
  };
  const ret = [
    job.removeOnComplete.count,
    job.removeOnComplete.ageMs,
    job.removeOnFail.count,
    job.removeOnFail.ageMs,
  ].map(orEmpty).join(",") + (job.deadLetter ? ",1" : ",0");
  return [orEmpty(job.id), job.name, String(job.priority), String(job.runAt), orEmpty(job.dedupKey), ret, JSON.stringify(data)];
}

/** What the scripts return for a job: its hash as a flat field/value list, its log lines, its id. */
export type Snapshot = [flatHash: string[], logs: string[], id: string];

const num = (value: string | undefined) => (value === undefined || value === "" ? null : Number(value));
const json = (value: string | undefined) => (value === undefined || value === "" ? undefined : JSON.parse(value));

export function decodeJob(queue: string, [flat, logs, id]: Snapshot): Job {
  const h: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  const data = JSON.parse(h.data!) as JobData;
  const lease = h.lease ? /^(\S+) (\S+) (.*)$/.exec(h.lease) : null;
  return {
    id,
    queue,
    name: data.name,
    payload: data.payload,
    state: h.state as JobState,
    priority: data.priority,
    seq: Number(h.seq ?? 0),
    createdAt: data.createdAt,
    runAt: Number(h.runAt),
    attemptsMade: Number(h.att ?? 0),
    maxAttempts: data.maxAttempts,
    backoff: data.backoff,
    timeoutMs: data.timeoutMs,
    dedupKey: data.dedupKey,
    progress: json(h.prog) ?? null,
    logs,
    result: json(h.res),
    lastError: json(h.err) ?? null,
    startedAt: num(h.start),
    finishedAt: num(h.end),
    lease: lease ? { token: lease[1]!, expiresAt: Number(lease[2]), workerId: lease[3]! } : null,
    stalls: Number(h.stalls ?? 0),
    removeOnComplete: data.removeOnComplete,
    removeOnFail: data.removeOnFail,
    deadLetter: data.deadLetter,
    dead: json(h.dead) ?? null,
    createdBy: data.createdBy ?? null,
    changedBy: json(h.chg) ?? null,
  };
}

/** A job the enqueue script just created, built from what was sent rather than read back. */
export function createdJob(queue: string, input: NewJob, id: string, seq: number, state: JobState): Job {
  const payload = input.payload === undefined ? undefined : JSON.parse(JSON.stringify(input.payload));
  return initialJob(input, id, queue, seq, state, payload);
}
