import { parseArgument } from "./validation.ts";
import * as v from "valibot";
import type { RateLimiter } from "./rate-limiter.ts";
import type { Job } from "./job.ts";

/**
 * A rate limit on starting jobs. Without `key`, it limits the whole queue; with one, each key
 * the function returns (a tenant, a customer; null for none) is limited on its own. With a
 * limiter on a shared backend (Redis), every worker process shares the same limit.
 */
export interface WorkerRateLimit {
  readonly limiter: RateLimiter;
  readonly key?: (job: Job) => string | null;
}

/**
 * How a worker of several queues shares its slots: `"strict"` gives every free slot to the first
 * queue in its list with a due job; `{ weights }` shares them in proportion to each queue's weight
 * (a positive integer; a queue not named weighs 1) among the queues that have due jobs.
 */
export type WorkerOrder = "strict" | { readonly weights: Readonly<Record<string, number>> };

export interface WorkerOptions {
  /** Jobs this worker runs at once, in all its queues. @default 1 */
  concurrency?: number;
  /** How long a claim holds a job; renewed every third of it while the handler runs. @default 30_000 */
  leaseMs?: number;
  /** How often to look for jobs whose worker died (lease expired). @default 30_000 */
  stallCheckMs?: number;
  /** Times a job may be lost by a dying worker before it fails for good. @default 1 */
  maxStalls?: number;
  /** Pause before trying the store again after it failed. @default 1_000 */
  errorRetryMs?: number;
  /** How long `close()` waits for running jobs before giving them back to the queue. @default 30_000 */
  closeTimeoutMs?: number;
  /** Start taking jobs as soon as the worker is made. @default true */
  autostart?: boolean;
  /** Names this worker in leases and events. @default a random UUID */
  id?: string;
  /** Jobs start only within all of these; a job over one waits, delayed until it may run, its attempt unspent. */
  rateLimits?: readonly WorkerRateLimit[];
  /** How a worker of several queues shares its `concurrency` among them. @default "strict" */
  order?: WorkerOrder;
}

export const WORKER_DEFAULTS = Object.freeze({
  concurrency: 1,
  leaseMs: 30_000,
  stallCheckMs: 30_000,
  maxStalls: 1,
  errorRetryMs: 1_000,
  closeTimeoutMs: 30_000,
  autostart: true,
  order: "strict" as WorkerOrder,
});

const positiveMs = v.pipe(v.number(), v.integer(), v.minValue(1));
const weight = v.pipe(v.number(), v.check((n) => Number.isSafeInteger(n) && n >= 1, "a positive integer"));

export const WorkerOptionsSchema = v.strictObject({
  concurrency: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000))),
  leaseMs: v.optional(v.pipe(positiveMs, v.minValue(10))),
  stallCheckMs: v.optional(positiveMs),
  maxStalls: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  errorRetryMs: v.optional(positiveMs),
  closeTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  autostart: v.optional(v.boolean()),
  id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  rateLimits: v.optional(v.array(v.strictObject({
    limiter: v.custom<RateLimiter>((value) => typeof (value as RateLimiter)?.consume === "function", "a RateLimiter"),
    key: v.optional(v.custom<(job: Job) => string | null>((value) => typeof value === "function", "a function from job to key")),
  }))),
  // Told apart here, checked in full below: a union's issue would only say "wrong type".
  order: v.optional(v.custom<WorkerOrder>((value) => value === "strict" || (typeof value === "object" && value !== null), '"strict" or { weights }')),
});

const WeightsSchema = v.strictObject({ weights: v.record(v.string(), weight) });

/** Every setting a worker runs with: the caller's where given, else the default. */
export type ResolvedWorkerOptions = Required<Omit<WorkerOptions, "id" | "rateLimits">>;

/** Validates a worker's options (a typed error naming the bad one) and fills in the defaults. */
export function resolveWorkerOptions(options: WorkerOptions): {
  id: string | undefined;
  rateLimits: readonly WorkerRateLimit[];
  settings: ResolvedWorkerOptions;
} {
  const { id, rateLimits, ...rest } = parseArgument(WorkerOptionsSchema, options, "worker options");
  if (typeof rest.order === "object") rest.order = parseArgument(WeightsSchema, rest.order, 'worker option "order" ({ weights: { [queue]: weight } })');
  const given = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
  return { id, rateLimits: rateLimits ?? [], settings: { ...WORKER_DEFAULTS, ...given } as ResolvedWorkerOptions };
}
