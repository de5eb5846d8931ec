import { cloneData } from "../../core/clone.ts";
import { withStep } from "../../core/job.ts";
import type { LogRequest, ProgressRequest, StepRequest } from "../../core/store-contract.ts";
import type { QueueData } from "./queue-data.ts";

/**
 * Changes a running job's holder makes (progress, log lines, durable steps): each needs the
 * lease token that holds the job, and changes nothing else about it.
 */

export function setProgress(q: QueueData, { id, token, progress, now }: ProgressRequest): boolean {
  const job = q.held(id, token);
  if (!job) return false;
  job.progress = cloneData(progress);
  q.mark(job);
  q.events.deliver([{ type: "progress", queue: q.name, at: now, jobId: id, name: job.name, progress }]);
  return true;
}

export function appendLog(q: QueueData, { id, token, line }: LogRequest): boolean {
  const job = q.held(id, token);
  if (!job) return false;
  job.logs.push(line);
  q.mark(job);
  return true;
}

/** Steps are replaced, never changed in place: copies handed out before stay as they were. */
export function saveStep(q: QueueData, { id, token, step, value }: StepRequest): boolean {
  const job = q.held(id, token);
  if (!job) return false;
  job.steps = withStep(job.steps, step, cloneData(value));
  q.mark(job);
  return true;
}
