import { FINISHED_STATES, type Job, type JobCounts, type JobState } from "../../core/job.ts";
import { copyJob, type JobRecord } from "./job-record.ts";
import { isCurrent, type QueueData } from "./queue-data.ts";

/** The read views of one queue, as the contract orders them; each job is a copy the caller owns. */

/** Waiting in claim order, delayed by due time, active by start, finished newest first. */
export function listJobs(q: QueueData, state: JobState, offset: number, limit: number): Job[] {
  let jobs: JobRecord[];
  if (state === "waiting") {
    jobs = [...q.waiting].filter((e) => isCurrent(e, "waiting")).map((e) => e.job);
  } else if (state === "delayed") {
    jobs = q.delayed.sorted().filter((e) => isCurrent(e, "delayed")).map((e) => e.job);
  } else {
    jobs = [...q.indexed[state]];
    if (FINISHED_STATES.has(state)) jobs.reverse();
  }
  return jobs.slice(offset, offset + limit).map(copyJob);
}

/** Waiting jobs of a paused queue count as `paused`. */
export function countJobs(q: QueueData): JobCounts {
  return {
    waiting: q.paused ? 0 : q.waitingCount,
    paused: q.paused ? q.waitingCount : 0,
    delayed: q.delayedCount,
    active: q.indexed.active.size,
    "waiting-children": q.indexed["waiting-children"].size,
    completed: q.indexed.completed.size,
    failed: q.indexed.failed.size,
    dead: q.indexed.dead.size,
    cancelled: q.indexed.cancelled.size,
  };
}
