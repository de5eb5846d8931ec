import { RateLimiter } from "./rate-limiter.ts";
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
 * Takes one unit from every limit that applies to the job, all or none: when a later limit
 * refuses, the units earlier ones took are given back, so a job held back spends nothing.
 * The refusing limit decides the wait. Throws what a limiter's store throws.
 */
export async function admit(job: Job, limits: readonly WorkerRateLimit[], queueKey: string): Promise<Admission> {
  const applying: { limit: WorkerRateLimit; key: string }[] = [];
  for (const limit of limits) {
    const key = limit.key ? limit.key(job) : queueKey;
    if (key !== null) applying.push({ limit, key });
  }
  if (applying.length === 0) return { waitMs: 0, queueWide: false };
  const { refused, decisions } = await RateLimiter.consumeAll(applying.map(({ limit, key }) => ({ limiter: limit.limiter, key })));
  if (refused === null) return { waitMs: 0, queueWide: false };
  return { waitMs: decisions[refused]!.retryAfterMs, queueWide: !applying[refused]!.limit.key };
}

/**
 * `admit`, but a limiter whose store fails holds the job back for `errorRetryMs` rather than let
 * it run unlimited; the error goes to `reportError`.
 */
export async function admitOrHold(
  job: Job,
  limits: readonly WorkerRateLimit[],
  queueKey: string,
  errorRetryMs: number,
  reportError: (error: unknown) => void,
): Promise<Admission> {
  try {
    return await admit(job, limits, queueKey);
  } catch (error) {
    reportError(error);
    return { waitMs: errorRetryMs, queueWide: false };
  }
}
