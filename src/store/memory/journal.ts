import { type Job, NO_STEPS, PENDING_STATES } from "../../core/job.ts";
import { copyJob, newJobRecord } from "./job-record.ts";
import type { JournalEntry, QueueData } from "./queue-data.ts";

/**
 * The journal: how a persistent store builds on the memory store. Every change is marked on
 * its queue; the store drains the marks and writes them, and on a restart restores the queue
 * from what it wrote.
 */

/** One queue's jobs changed and deleted, and its pause flag if changed, since the last drain. */
export function drainJournal(q: QueueData): JournalEntry | null {
  if (q.dirty.size === 0 && !q.pausedDirty) return null;
  const upserts: Job[] = [];
  const deletes: string[] = [];
  for (const [id, job] of q.dirty) job ? upserts.push(copyJob(job)) : deletes.push(id);
  const entry = { queue: q.name, upserts, deletes, paused: q.pausedDirty ? q.paused : undefined };
  q.dirty.clear();
  q.pausedDirty = false;
  return entry;
}

/**
 * Rebuilds a queue from stored jobs: each goes back where its state says, in its old order.
 * Returns the highest seq and lease token seen, so the store's counters continue past them.
 */
export function restoreQueue(q: QueueData, jobs: readonly Job[], paused: boolean): { seq: number; leaseToken: number } {
  q.paused = paused;
  let seq = 0;
  let leaseToken = 0;
  const bySeq = [...jobs].sort((a, b) => a.seq - b.seq);
  for (const job of bySeq) {
    const record = newJobRecord(job, job.id, q.name);
    Object.assign(record, {
      state: job.state, seq: job.seq, runAt: job.runAt, attemptsMade: job.attemptsMade, progress: job.progress,
      logs: [...job.logs], result: job.result, lastError: job.lastError, startedAt: job.startedAt,
      finishedAt: job.finishedAt, lease: job.lease, stalls: job.stalls, dead: job.dead,
      changedBy: job.changedBy, steps: job.steps ?? NO_STEPS,
    });
    q.jobs.set(record.id, record);
    seq = Math.max(seq, record.seq);
    if (/^\d+$/.test(record.id)) q.nextId = Math.max(q.nextId, Number(record.id));
    if (record.lease) {
      leaseToken = Math.max(leaseToken, Number(record.lease.token) || 0);
      q.leased.set(record.lease.token, record);
    }
    if (record.dedupKey !== null && PENDING_STATES.has(record.state)) q.dedup.set(record.dedupKey, record.id);
    if (record.state === "waiting") q.waiting.push(record.priority, { job: record, seq: record.seq });
    else if (record.state === "delayed") q.delayed.push({ job: record, seq: record.seq });
  }
  const finishedOrder = bySeq.filter((j) => !PENDING_STATES.has(j.state)).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
  for (const job of [...bySeq.filter((j) => PENDING_STATES.has(j.state)), ...finishedOrder]) {
    const record = q.jobs.get(job.id)!;
    q.move(record, record.state, true);
  }
  q.dirty.clear(); // what was just read back needs no writing
  return { seq, leaseToken };
}
