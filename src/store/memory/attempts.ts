import type { ConveyorEventData } from "../../core/events.ts";
import type { Job, JobState } from "../../core/job.ts";
import { cloneData } from "../../core/clone.ts";
import type { ClaimRequest, ClaimResult, Outcome } from "../../core/store-contract.ts";
import * as machine from "../../core/transitions.ts";
import { copyJob, type JobRecord } from "./job-record.ts";
import type { QueueData } from "./queue-data.ts";

/** The two transitions of an attempt in memory: a claim that starts it, the outcome that ends it. */

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
