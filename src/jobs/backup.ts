import * as v from "valibot";
import type { Clock } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import { FINISHED_STATES, type Job, type JobState } from "../core/job.ts";
import { NameSchema } from "../core/names.ts";
import type { QueueStore } from "../core/store-contract.ts";
import { parseArgument } from "../core/validation.ts";
import { BACKUP_FORMAT, BACKUP_VERSION, type BackupCounts } from "./backup-format.ts";
import { LineWriter } from "./backup-lines.ts";

export interface BackupOptions {
  /**
   * Queues to export. The store contract has no list of queues, so name them; queues that a
   * stored schedule fires into are added. @default [] (plus the schedules' queues)
   */
  queues?: readonly string[];
  /** Record namespaces to export (schedules and their state). @default ["schedules", "schedule-state"] */
  recordNamespaces?: readonly string[];
  /** Export the audit log too. @default true */
  audit?: boolean;
  /** Jobs (or audit entries) read per store call: each call is short, so workers never wait long. @default 500 */
  pageSize?: number;
  /** Stamps the archive's `createdAt`. @default systemClock */
  clock?: Clock;
}

export const BACKUP_DEFAULTS = Object.freeze({
  queues: Object.freeze([]) as readonly string[],
  recordNamespaces: Object.freeze(["schedules", "schedule-state"]) as readonly string[],
  audit: true,
  pageSize: 500,
});

const BackupOptionsSchema = v.strictObject({
  queues: v.optional(v.array(NameSchema)),
  recordNamespaces: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
  audit: v.optional(v.boolean()),
  pageSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000))),
  clock: v.optional(v.custom<Clock>((c) => typeof (c as Clock)?.now === "function", "a Clock")),
});

/**
 * Finished states first: a restore replays them before pending jobs, so a dedup key a finished
 * job held is free again when the pending job that holds it now is restored.
 */
const ARCHIVE_ORDER: readonly JobState[] = ["completed", "failed", "dead", "cancelled", "waiting", "delayed", "active", "waiting-children"];

/** What was written: the archive's end line, and jobs per queue and state. */
export interface BackupResult extends BackupCounts {
  readonly perQueue: Readonly<Record<string, Readonly<Partial<Record<JobState, number>>>>>;
}

/**
 * Streams every named queue's jobs (every state), the schedules and the audit log as gzip JSON
 * lines into `writable`, which it closes. A page at a time: memory stays flat however many jobs
 * there are, and workers go on meanwhile. A backup taken while workers run is not a snapshot: a
 * job that changes state during it is written as one of its pages saw it (once: ids are
 * de-duplicated), and a job that moves between pages may be missed; pause the queues for an
 * exact copy.
 */
export async function backup(store: QueueStore, writable: WritableStream<Uint8Array>, options: BackupOptions = {}): Promise<BackupResult> {
  const o = parseArgument(BackupOptionsSchema, options, "backup options");
  const pageSize = o.pageSize ?? BACKUP_DEFAULTS.pageSize;
  const out = new LineWriter(writable);
  try {
    const records: { namespace: string; key: string; value: unknown }[] = [];
    const queues = new Set(o.queues ?? BACKUP_DEFAULTS.queues);
    for (const namespace of o.recordNamespaces ?? BACKUP_DEFAULTS.recordNamespaces) {
      for (const { key, value } of await store.listRecords(namespace)) {
        records.push({ namespace, key, value });
        const queue = namespace === "schedules" ? (value as { queue?: unknown } | null)?.queue : undefined;
        if (typeof queue === "string") queues.add(queue);
      }
    }
    await out.write({ kind: BACKUP_FORMAT, version: BACKUP_VERSION, createdAt: (o.clock ?? systemClock).now() });
    const counts: BackupCounts = { queues: 0, jobs: 0, records: 0, audit: 0 };
    const perQueue: Record<string, Partial<Record<JobState, number>>> = {};
    for (const queue of [...queues].sort()) {
      await out.write({ kind: "queue", name: queue, paused: await store.isPaused(queue) });
      counts.queues++;
      const seen = new Set<string>();
      const tally: Partial<Record<JobState, number>> = {};
      for (const state of ARCHIVE_ORDER) {
        for await (const page of pagesOf(store, queue, state, pageSize)) {
          for (const job of page) {
            if (seen.has(job.id)) continue;
            seen.add(job.id);
            await out.write({ kind: "job", job });
            tally[state] = (tally[state] ?? 0) + 1;
            counts.jobs++;
          }
        }
      }
      perQueue[queue] = tally;
    }
    for (const record of records) {
      await out.write({ kind: "record", ...record });
      counts.records++;
    }
    if (o.audit ?? BACKUP_DEFAULTS.audit) {
      for (let after = "0-0";;) {
        const page = await store.listAudit({ after, limit: pageSize });
        // A page comes newest first: the archive keeps the log's order, oldest first.
        for (let i = page.length - 1; i >= 0; i--) {
          const { cursor: _cursor, ...entry } = page[i]!;
          await out.write({ kind: "audit", entry });
          counts.audit++;
        }
        if (page.length < pageSize) break;
        after = page[0]!.cursor;
      }
    }
    await out.write({ kind: "end", ...counts });
    await out.close();
    return { ...counts, perQueue };
  } catch (error) {
    await out.abort(error);
    throw error;
  }
}

/**
 * Pages of one state. Finished states are listed newest first, so they are read from the end
 * backwards: the archive holds them oldest first, the order a restore finishes them in (which
 * keeps retention's "the last N" the same jobs).
 */
async function* pagesOf(store: QueueStore, queue: string, state: JobState, pageSize: number): AsyncGenerator<Job[]> {
  if (!FINISHED_STATES.has(state)) {
    for (let offset = 0;; offset += pageSize) {
      const page = await store.list(queue, state, { offset, limit: pageSize });
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
    }
  }
  const total = (await store.counts(queue))[state];
  for (let end = total; end > 0; end -= pageSize) {
    const offset = Math.max(0, end - pageSize);
    const page = await store.list(queue, state, { offset, limit: end - offset });
    yield page.reverse();
  }
}
