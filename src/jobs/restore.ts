import * as v from "valibot";
import type { NewAuditEntry } from "../core/audit-entry.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { ConveyorError } from "../core/errors.ts";
import type { Job, JobState } from "../core/job.ts";
import type { QueueStore } from "../core/store-contract.ts";
import { parseArgument } from "../core/validation.ts";
import { type BackupCounts, BackupFormatError, type BackupLine, parseHeader, parseLine } from "./backup-format.ts";
import { readLines } from "./backup-lines.ts";
import { needsReplay, newJobOf, replayBatch, type Restored } from "./restore-replay.ts";

/**
 * Where an archive comes from. A function that opens it anew is read three times (check, then
 * two writing passes) and memory stays flat; a stream can be read once, so its lines are kept
 * in memory between the check and the writes.
 */
export type BackupSource = ReadableStream<Uint8Array> | (() => ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>);

export interface RestoreOptions {
  /** `now` of plain enqueues (a delayed job whose time passed arrives waiting). @default systemClock */
  clock?: Clock;
  /** Jobs per store call. @default 500 */
  batchSize?: number;
  /** Finished jobs whose finish times lie this close are finished in one call, at the latest of them. @default 1_000 */
  timePrecisionMs?: number;
  /** Restore the records (schedules and their state). @default true */
  records?: boolean;
  /** Append the archive's audit entries to the log (they get new cursors; their times are kept). @default true */
  audit?: boolean;
}

export const RESTORE_DEFAULTS = Object.freeze({ batchSize: 500, timePrecisionMs: 1_000, records: true, audit: true });

const RestoreOptionsSchema = v.strictObject({
  clock: v.optional(v.custom<Clock>((c) => typeof (c as Clock)?.now === "function", "a Clock")),
  batchSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000))),
  timePrecisionMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  records: v.optional(v.boolean()),
  audit: v.optional(v.boolean()),
});

export interface RestoreResult extends BackupCounts, Restored {
  /** Jobs restored per queue, by the state the archive gave them. */
  readonly perQueue: Readonly<Record<string, Readonly<Partial<Record<JobState, number>>>>>;
}

type Lines = () => AsyncIterable<BackupLine>;

/**
 * Imports an archive written by `backup` into `store`. Every line is checked first (format,
 * version, each record's shape, the end line's counts); a bad archive throws a
 * `BackupFormatError` naming the line and imports nothing. Then jobs are rebuilt through the
 * store contract (see restore-replay.ts), so any store restores any store's archive.
 *
 * Restore into queues no worker runs on: a queue that receives jobs with attempts or finished
 * jobs must have nothing waiting or active and must not be paused (`INVALID_STATE` otherwise).
 */
export async function restore(store: QueueStore, source: BackupSource, options: RestoreOptions = {}): Promise<RestoreResult> {
  const o = parseArgument(RestoreOptionsSchema, options, "restore options");
  const clock = o.clock ?? systemClock;
  const batchSize = o.batchSize ?? RESTORE_DEFAULTS.batchSize;
  const precisionMs = o.timePrecisionMs ?? RESTORE_DEFAULTS.timePrecisionMs;

  const kept: BackupLine[] | null = typeof source === "function" ? null : [];
  const open = async () => typeof source === "function" ? await source() : source;
  const checked = await checkArchive(await open(), kept);
  const lines: Lines = kept ? async function* () { yield* kept; } : async function* () { yield* parsed(await open()); };

  for (const queue of checked.replayQueues) {
    const counts = await store.counts(queue);
    if (counts.waiting > 0 || counts.active > 0 || await store.isPaused(queue)) {
      throw new ConveyorError("INVALID_STATE", `Restore needs queue "${queue}" with nothing waiting or active, and not paused (it has ${counts.waiting} waiting, ${counts.active} active)`);
    }
  }

  const tally: Restored = { skipped: 0, unlinked: 0 };
  const perQueue: Record<string, Partial<Record<JobState, number>>> = {};

  // Pass 1: jobs that had attempts or finished, replayed in batches while their queue has nothing else due.
  let batch: Job[] = [];
  const flush = async () => {
    if (batch.length > 0) await replayBatch(store, batch[0]!.queue, batch, tally);
    batch = [];
  };
  const fits = (job: Job) => {
    const first = batch[0];
    if (!first) return true;
    if (batch.length >= batchSize || first.queue !== job.queue) return false;
    if (job.dedupKey !== null && batch.some((other) => other.dedupKey === job.dedupKey)) return false;
    return Math.abs((job.finishedAt ?? 0) - (first.finishedAt ?? 0)) <= precisionMs;
  };
  for await (const line of lines()) {
    if (line.kind !== "job" || !needsReplay(line.job)) continue;
    if (!fits(line.job)) await flush();
    batch.push(line.job);
    const tallyOf = perQueue[line.job.queue] ??= {};
    tallyOf[line.job.state] = (tallyOf[line.job.state] ?? 0) + 1;
  }
  await flush();

  // Pass 2: jobs never tried, in the archive's order (waiting in claim order); then records, audit, pauses.
  let plain: Job[] = [];
  const enqueuePlain = async () => {
    if (plain.length === 0) return;
    const results = await store.enqueue(plain[0]!.queue, { jobs: plain.map((job) => newJobOf(job, tally)), now: clock.now() });
    tally.skipped += results.filter((r) => !r.created).length;
    plain = [];
  };
  const paused: string[] = [];
  let audit: NewAuditEntry[] = [];
  for await (const line of lines()) {
    if (line.kind === "job") {
      if (needsReplay(line.job)) continue;
      if (plain.length >= batchSize || (plain[0] && plain[0].queue !== line.job.queue)) await enqueuePlain();
      plain.push(line.job);
      const tallyOf = perQueue[line.job.queue] ??= {};
      tallyOf[line.job.state] = (tallyOf[line.job.state] ?? 0) + 1;
      continue;
    }
    await enqueuePlain();
    if (line.kind === "queue" && line.paused) paused.push(line.name);
    if (line.kind === "record" && (o.records ?? true)) await store.putRecord(line.namespace, line.key, line.value);
    if (line.kind === "audit" && (o.audit ?? true)) {
      audit.push(line.entry);
      if (audit.length >= batchSize) {
        await store.appendAudit(audit);
        audit = [];
      }
    }
  }
  await enqueuePlain();
  if (audit.length > 0) await store.appendAudit(audit);
  for (const queue of paused) await store.setPaused(queue, { paused: true, now: clock.now() });
  return { ...checked.counts, ...tally, perQueue };
}

/** Every line parsed and checked: a header first, an end line last whose counts match. Nothing is written. */
async function checkArchive(readable: ReadableStream<Uint8Array>, kept: BackupLine[] | null): Promise<{ counts: BackupCounts; replayQueues: Set<string> }> {
  const counts: BackupCounts = { queues: 0, jobs: 0, records: 0, audit: 0 };
  const queues = new Set<string>();
  const replayQueues = new Set<string>();
  let end: (BackupLine & { kind: "end" }) | null = null;
  let last = 0;
  for await (const { text, line } of readLines(readable)) {
    last = line;
    if (line === 1) {
      parseHeader(text, line);
      continue;
    }
    if (end !== null) throw new BackupFormatError(line, "a line after the end line");
    const parsed = parseLine(text, line);
    if (parsed.kind === "end") end = parsed;
    else if (parsed.kind === "queue") {
      queues.add(parsed.name);
      counts.queues++;
    } else if (parsed.kind === "job") {
      if (!queues.has(parsed.job.queue)) throw new BackupFormatError(line, `a job of queue "${parsed.job.queue}" before that queue's line`);
      if (needsReplay(parsed.job)) replayQueues.add(parsed.job.queue);
      counts.jobs++;
    } else if (parsed.kind === "record") counts.records++;
    else counts.audit++;
    kept?.push(parsed);
  }
  if (last === 0) throw new BackupFormatError(1, "the archive is empty");
  if (end === null) throw new BackupFormatError(last + 1, "the archive ends without its end line (cut short?)");
  for (const key of ["queues", "jobs", "records", "audit"] as const) {
    if (end[key] !== counts[key]) throw new BackupFormatError(last, `the end line counts ${end[key]} ${key}, the archive holds ${counts[key]}`);
  }
  return { counts, replayQueues };
}

/** The body lines of an archive already checked once (a source opened again). */
async function* parsed(readable: ReadableStream<Uint8Array>): AsyncGenerator<BackupLine> {
  for await (const { text, line } of readLines(readable)) {
    if (line === 1) continue;
    const value = parseLine(text, line);
    if (value.kind !== "end") yield value;
  }
}
