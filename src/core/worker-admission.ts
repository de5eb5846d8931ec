import type { Job } from "./job.ts";
import type { WorkerRateLimit } from "./worker-options.ts";

/** Whether a job may start now under a worker's rate limits, and if not, for how long it waits. */
export interface Admission {
  /** 0 when the job may start now. */
  readonly waitMs: number;
  /** The refusing limit is the queue-wide one (no `key`): every job would be refused alike. */
  readonly queueWide: boolean;
}

/**
 * Takes one unit from each limit that applies to the job, in order; the first limit that
 * refuses decides the wait. Throws what a limiter's store throws.
 */
export async function admit(job: Job, limits: readonly WorkerRateLimit[], queueKey: string): Promise<Admission> {
  for (const limit of limits) {
    const key = limit.key ? limit.key(job) : queueKey;
    if (key === null) continue;
    const decision = await limit.limiter.consume(key);
    if (!decision.allowed) return { waitMs: decision.retryAfterMs, queueWide: !limit.key };
  }
  return { waitMs: 0, queueWide: false };
}
