import * as v from "valibot";
import { isJobDefinition, type JobDefinition, type PayloadInput } from "./define-job.ts";
import type { EnqueuedJob } from "./job.ts";
import { checkJobData } from "./job-data.ts";
import { buildNewJob, type JobOptions, JobOptionsFields } from "./job-options.ts";
import { NameSchema } from "./names.ts";
import { parseArgument, parseData } from "./validation.ts";
import { type ChainRest, type ChainStep, MAX_CHAIN_STEPS } from "./workflow.ts";

/**
 * Chains on the producer side: `queue.add(a, …).then(b, …).catch(c).finally(d)`. Every step is
 * stored with the first job, in the one call that enqueues it; the store enqueues each next step
 * in the same atomic transition that ends the one before.
 */

/** Options of a chain step after the first: its job's settings, its queue, and a delay after the step before. */
export interface StepOptions extends Omit<JobOptions, "jobId" | "dedupKey" | "runAt" | "delayMs" | "createdBy"> {
  /** The queue the step runs on. @default the first job's queue */
  queue?: string | { readonly name: string };
  /** Due this long after the step before ends. @default 0 */
  delayMs?: number;
}

const { jobId: _jobId, dedupKey: _dedupKey, runAt: _runAt, delayMs: _delayMs, ...settingEntries } = JobOptionsFields.entries;
const StepOptionsSchema = v.strictObject({
  ...settingEntries,
  queue: v.optional(v.union([NameSchema, v.pipe(v.object({ name: NameSchema }), v.transform((q) => q.name))])),
  delayMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});

type Kind = "then" | "catch" | "finally";

/** One step as a chain entry: a definition, its payload (omitted: what the step before left) and options. */
export interface ChainEntry<D extends JobDefinition = JobDefinition> {
  readonly job: D;
  readonly payload?: PayloadInput<D>;
  readonly options?: StepOptions;
}

/** Builds a stored step: payload checked now unless it is inherited (then the worker checks it). */
export function chainStep(kind: Kind, entry: ChainEntry, defaultQueue: string, inherit: boolean, now: number): ChainStep {
  if (!isJobDefinition(entry.job)) throw new TypeError(`${kind}() takes a job definition made by defineJob()`);
  if (typeof entry.payload === "function") {
    throw new TypeError(
      `${kind}(${entry.job.name}) got a function as its payload: a step's payload is stored with the first job, and a function cannot be. ` +
        `Omit the payload to hand the step what the step before left (its result, error or outcome), or read ctx.previous in the handler`,
    );
  }
  const { queue, delayMs, ...settings } = parseArgument(StepOptionsSchema, entry.options ?? {}, `${kind}(${entry.job.name}) options`);
  if (!inherit) {
    checkJobData(entry.payload, `payload for job "${entry.job.name}"`);
    parseData(entry.job.schema, entry.payload, `payload for job "${entry.job.name}"`);
  }
  const built = buildNewJob(entry.job.name, inherit ? null : entry.payload, entry.job.defaults, settings, now);
  const { id: _id, createdAt: _c, runAt: _r, flow: _f, ...job } = built;
  return { queue: queue ?? defaultQueue, job, delayMs: delayMs ?? 0, inherit };
}

/** The steps gathered so far. */
export class ChainParts {
  readonly then: ChainStep[] = [];
  catch: ChainStep | null = null;
  finally: ChainStep | null = null;

  add(kind: Kind, step: ChainStep): void {
    // The first job, the steps so far and this one.
    const steps = 1 + this.then.length + (this.catch ? 1 : 0) + (this.finally ? 1 : 0) + 1;
    if (steps > MAX_CHAIN_STEPS) throw new RangeError(`A chain holds at most ${MAX_CHAIN_STEPS} steps, the first job, catch and finally included`);
    if (kind === "then") {
      if (this.catch || this.finally) throw new TypeError("then() comes before catch() and finally() in a chain");
      this.then.push(step);
    } else if (kind === "catch") {
      if (this.catch) throw new TypeError("A chain has one catch()");
      if (this.finally) throw new TypeError("catch() comes before finally() in a chain");
      this.catch = step;
    } else {
      if (this.finally) throw new TypeError("A chain has one finally()");
      this.finally = step;
    }
  }

  rest(): ChainRest | null {
    return this.then.length === 0 && !this.catch && !this.finally ? null : { then: [...this.then], catch: this.catch, finally: this.finally };
  }
}

/** The chain with every step created by `createdBy` (the first job's creator), where a step names nobody. */
export function signedBy(chain: ChainRest, createdBy: string | null): ChainRest {
  if (createdBy === null) return chain;
  const sign = (step: ChainStep | null): ChainStep | null =>
    step && (step.job.createdBy !== null ? step : { ...step, job: { ...step.job, createdBy } });
  return { then: chain.then.map((step) => sign(step)!), catch: sign(chain.catch), finally: sign(chain.finally) };
}

type Submit<P> = (chain: ChainRest | null) => Promise<EnqueuedJob<P>>;

/**
 * A chain being built: `queue.chain(a, payload).then(b).catch(c).finally(d).add()`. Steps are
 * checked as they are given; `add()` stores the first job with every step in one call and
 * resolves with that job. Each next step is enqueued by the transition that ends the one before.
 * (`then` takes definitions, so the builder is no promise: call `add()`.)
 */
export class ChainBuilder<P = unknown> {
  readonly #parts = new ChainParts();
  readonly #queue: string;
  readonly #now: () => number;
  readonly #submit: Submit<P>;
  #added: Promise<EnqueuedJob<P>> | undefined;

  constructor(queue: string, now: () => number, submit: Submit<P>) {
    this.#queue = queue;
    this.#now = now;
    this.#submit = submit;
  }

  /** Runs after the step before completes; without a payload it gets that step's result. */
  then<D extends JobDefinition>(job: D, payload?: PayloadInput<D>, options?: StepOptions): this {
    // Awaited by mistake (JavaScript): behave as the promise of add().
    if (typeof job === "function") return this.add().then(job as never, payload as never) as never;
    return this.#step("then", job, arguments.length >= 2, payload, options);
  }

  /** Runs after a step fails for good; without a payload it gets the error. */
  catch<D extends JobDefinition>(job: D, payload?: PayloadInput<D>, options?: StepOptions): this {
    return this.#step("catch", job, arguments.length >= 2, payload, options);
  }

  /** Runs last whether the chain succeeded or failed; without a payload it gets `{ state, result | error }`. */
  finally<D extends JobDefinition>(job: D, payload?: PayloadInput<D>, options?: StepOptions): this {
    return this.#step("finally", job, arguments.length >= 2, payload, options);
  }

  /** Stores the first job with every step, in one call. Calling it again returns the same promise. */
  add(): Promise<EnqueuedJob<P>> {
    return this.#added ??= this.#submit(this.#parts.rest());
  }

  #step(kind: Kind, job: JobDefinition, hasPayload: boolean, payload: unknown, options: StepOptions | undefined): this {
    if (this.#added) throw new TypeError(`${kind}() came after add(): give every step before adding the chain`);
    const inherit = !hasPayload || payload === undefined;
    this.#parts.add(kind, chainStep(kind, { job, payload, options }, this.#queue, inherit, this.#now()));
    return this;
  }
}
