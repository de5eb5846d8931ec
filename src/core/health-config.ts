import { storedBackoff } from "./backoff.ts";
import type { JobDefinition } from "./define-job.ts";
import type { StoredBackoff } from "./job.ts";
import type { RateLimitRule } from "./rate-limit-rules.ts";
import { ruleLimit } from "./rate-limit-rules.ts";
import type { Worker } from "./worker.ts";

/** A job kind's settings as its definition gives them (per-`add` options may override them). */
export interface JobInForce {
  readonly name: string;
  /** Total tries, the first included. */
  readonly attempts: number;
  readonly backoff: StoredBackoff;
  readonly timeoutMs: number | null;
  /** Final failures go to the dead-letter store (`dead`) rather than `failed`. */
  readonly deadLetter: boolean;
}

/** A worker of this process on the queue. */
export interface WorkerInForce {
  readonly id: string;
  readonly concurrency: number;
  readonly active: number;
  readonly running: boolean;
  readonly leaseMs: number;
  readonly stallCheckMs: number;
  readonly maxStalls: number;
}

/** One rate limit a worker starts this queue's jobs within. */
export interface RateLimitInForce {
  readonly worker: string;
  readonly rule: RateLimitRule;
  /** `queue`: one allowance for the whole queue; `per-key`: one per key the worker's function returns. */
  readonly scope: "queue" | "per-key";
  readonly sharedAcrossProcesses: boolean;
  /** Units in use now (queue-wide limits whose backend can tell, read in time); else null. */
  readonly current: number | null;
  readonly max: number;
  /** current / max × 100, one decimal. */
  readonly percent: number | null;
}

export interface QueueInForce {
  readonly jobs: readonly JobInForce[];
  readonly workers: readonly WorkerInForce[];
  readonly rateLimits: readonly RateLimitInForce[];
}

export function jobInForce(definition: JobDefinition): JobInForce {
  const d = definition.defaults;
  return {
    name: definition.name,
    attempts: d.attempts ?? 1,
    backoff: storedBackoff(d.backoff),
    timeoutMs: d.timeoutMs ?? null,
    deadLetter: d.deadLetter ?? true,
  };
}

/**
 * The configuration a queue runs with in this process: its registered job kinds, the workers
 * serving it and their rate limits. `usage` reads a limit's current use (bounded by the report's
 * deadline by the caller); null there leaves the figure out.
 */
export async function queueInForce(
  queue: { readonly name: string; readonly definitions: ReadonlyMap<string, JobDefinition> },
  workers: Iterable<Worker>,
  usage: (read: () => Promise<{ used: number } | null>) => Promise<{ used: number } | null>,
): Promise<QueueInForce> {
  const serving = [...workers].filter((w) => w.queues.some((q) => q.name === queue.name));
  const limits = serving.flatMap((worker) => worker.rateLimits.map((limit) => ({ worker, limit })));
  const rateLimits = await Promise.all(limits.map(async ({ worker, limit }): Promise<RateLimitInForce> => {
    const max = ruleLimit(limit.limiter.rule);
    const queueWide = !limit.key;
    // The worker's queue-wide key (see worker-lane's admission): what every job of the queue spends.
    const read = queueWide ? await usage(() => limit.limiter.usage(`queue:${queue.name}`)) : null;
    const current = read?.used ?? null;
    return {
      worker: worker.id,
      rule: limit.limiter.rule,
      scope: queueWide ? "queue" : "per-key",
      sharedAcrossProcesses: limit.limiter.backend.sharedAcrossProcesses,
      current,
      max,
      percent: current === null ? null : Math.round((current / max) * 1000) / 10,
    };
  }));
  return {
    jobs: [...queue.definitions.values()].map(jobInForce),
    workers: serving.map((w) => ({
      id: w.id,
      concurrency: w.concurrency,
      active: w.activeCount,
      running: w.isRunning,
      leaseMs: w.settings.leaseMs,
      stallCheckMs: w.settings.stallCheckMs,
      maxStalls: w.settings.maxStalls,
    })),
    rateLimits,
  };
}
