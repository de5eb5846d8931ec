import type { ConveyorEventData } from "../../core/events.ts";
import type { Job, JobState, NewJob } from "../../core/job.ts";
import { cloneData } from "../../core/clone.ts";
import type { ClaimRequest, ClaimResult, EnqueueResult, Outcome } from "../../core/store-contract.ts";
import * as machine from "../../core/transitions.ts";
import { copyJob, type JobRecord } from "./job-record.ts";
import type { QueueData } from "./queue-data.ts";
import { insertJob } from "./workflow.ts";

/** The transitions of a job's run in memory: enqueued, claimed (an attempt starts), an outcome (it ends). */

/** Adds jobs in order; an existing job (same id, or a pending one with the same dedup key) is returned instead. */
export function enqueueJobs(q: QueueData, jobs: readonly NewJob[], now: number): EnqueueResult[] {
  const results: EnqueueResult[] = [];
  const events: ConveyorEventData[] = [];
  const announce = q.wants("enqueued");
  for (const input of jobs) {
    const existingId = input.id !== null && q.jobs.has(input.id) ? input.id : input.dedupKey !== null ? q.dedup.get(input.dedupKey) : undefined;
    const existing = existingId === undefined ? undefined : q.jobs.get(existingId);
    if (existing) {
      results.push({ job: copyJob(existing), created: false });
      continue;
    }
    const job = insertJob(q, input, input.id ?? String(++q.nextId), now, announce ? events : null);
    results.push({ job: copyJob(job), created: true });
  }
  q.events.deliver(events);
  return results;
}

/** Promotes due delayed jobs, then hands out waiting ones under fresh leases, in claim order. */
export function claimWaiting(q: QueueData, request: ClaimRequest, events: ConveyorEventData[], nextToken: () => string): ClaimResult {
  const { now } = request;
  q.promoteDue(now);
  const jobs: Job[] = [];
  const announce = q.wants("active");
  while (!q.paused && jobs.length < request.limit) {
    const entry = q.waiting.shift();
    if (!entry) break;
    const job = entry.job;
    if (job.state !== "waiting" || job.seq !== entry.seq) continue;
    q.apply(job, machine.claim(job, request.workerId, nextToken(), now + request.leaseMs, now), now, announce ? events : null);
    jobs.push(copyJob(job));
  }
  return { jobs, nextDueAt: q.nextDueAt() };
}

/**
 * One outcome of a batch, retention included: a batch does what its outcomes would one by one.
 * A job of a workflow that ended goes on `ended`, for its effects once the batch is in.
 */
export function recordOutcome(q: QueueData, outcome: Outcome, now: number, events: ConveyorEventData[], ended: JobRecord[]): JobState | null {
  const job = q.held(outcome.id, outcome.token);
  if (!job) return null;
  const transition = machine.recordOutcome(job, outcome, now);
  // The stored result is the store's own copy; the event carries the handler's value.
  if (outcome.kind === "completed") transition.patch.result = cloneData(outcome.result);
  q.apply(job, transition, now, events);
  if (job.flow !== null && !transition.requeued) ended.push(job);
  return transition.state;
}
