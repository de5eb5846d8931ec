import type { ConveyorEventData } from "../core/events.ts";
import { type Job, JOB_STATES, type JobCounts, type JobState } from "../core/job.ts";
import type { Queue } from "../core/queue.ts";
import type { Caller } from "./auth.ts";
import { HttpError } from "./errors.ts";
import type { Permissions } from "./permission-config.ts";
import { canSee, ownerTag } from "./permissions.ts";
import type { Grant } from "./route.ts";

/**
 * Record-level visibility over a queue, for grants limited to a tenant or a subject (`@tenant`,
 * `@own`). Stores list by state, not by owner, so a limited reader's pages and counts come from
 * scanning the state's jobs, newest pages first as the store orders them, up to SCAN_LIMIT jobs
 * per state: past that, a limited reader sees the first SCAN_LIMIT only (documented in the README).
 */
export const SCAN_LIMIT = 10_000;
const SCAN_PAGE = 500;

/** Who a job created through the app is recorded as: the owner tag with permissions, else the subject. */
export function creator(caller: Caller, permissions: Permissions | null): { createdBy?: string } {
  if (permissions) return { createdBy: ownerTag(caller) };
  return caller.subject === null ? {} : { createdBy: caller.subject.slice(0, 256) };
}

async function* scan(queue: Queue, state: JobState): AsyncGenerator<Job> {
  for (let offset = 0; offset < SCAN_LIMIT; offset += SCAN_PAGE) {
    const page = await queue.list(state, { offset, limit: Math.min(SCAN_PAGE, SCAN_LIMIT - offset) });
    yield* page;
    if (page.length < SCAN_PAGE) return;
  }
}

/** A page of a state's jobs the grant covers. */
export async function visiblePage(queue: Queue, state: JobState, grant: Grant, page: { offset: number; limit: number }): Promise<Job[]> {
  if (grant.allRecords) return await queue.list(state, page);
  const out: Job[] = [];
  let skipped = 0;
  for await (const job of scan(queue, state)) {
    if (!canSee(grant, job.createdBy)) continue;
    if (skipped++ < page.offset) continue;
    out.push(job);
    if (out.length >= page.limit) break;
  }
  return out;
}

/** Counts per state of the jobs the grant covers. */
export async function visibleCounts(queue: Queue, grant: Grant): Promise<JobCounts> {
  if (grant.allRecords) return await queue.counts();
  const counts = Object.fromEntries([...JOB_STATES, "paused"].map((state) => [state, 0])) as Record<string, number>;
  for (const state of JOB_STATES) for await (const job of scan(queue, state)) if (canSee(grant, job.createdBy)) counts[state]!++;
  if (await queue.isPaused()) counts.paused = counts.waiting!;
  return counts as JobCounts;
}

/** One job the grant covers; another's is "not found", as one that does not exist (its existence is not told). */
export async function visibleJob(queue: Queue, id: string, grant: Grant): Promise<Job> {
  const job = await queue.get(id);
  if (job === null || !canSee(grant, job.createdBy)) throw new HttpError(404, "JOB_NOT_FOUND", `No job ${id} in queue "${queue.name}"`);
  return job;
}

/**
 * Events the grant covers: a job's event when its job is visible (looked up once per job, the
 * answer remembered for the stream), queue-wide ones (drained, paused, resumed) always.
 */
export function eventFilter(queue: Queue, grant: Grant): (event: ConveyorEventData) => Promise<boolean> {
  if (grant.allRecords) return () => Promise.resolve(true);
  const known = new Map<string, boolean>();
  return async (event) => {
    if (!("jobId" in event)) return true;
    let visible = known.get(event.jobId);
    if (visible === undefined) {
      const job = await queue.get(event.jobId);
      visible = job !== null && canSee(grant, job.createdBy);
      if (known.size >= SCAN_LIMIT) known.delete(known.keys().next().value!);
      known.set(event.jobId, visible);
    }
    return visible;
  };
}
