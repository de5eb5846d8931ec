import * as v from "valibot";
import type { QueueStore, Subscription } from "./store-contract.ts";
import type { Clock } from "./clock.ts";
import { isJobDefinition, type JobDefinition, type PayloadInput, type PayloadOutput } from "./define-job.ts";
import { ConveyorError } from "./errors.ts";
import { QueueEvents } from "./events.ts";
import { checkJobData } from "./job-data.ts";
import { type FinishedOptions, waitForOutcome } from "./job-outcome.ts";
import { type EnqueuedJob, FINISHED_STATES, type Job, type JobCounts, type JobState, JOB_STATES, type NewJob } from "./job.ts";
import { buildNewJob, type JobOptions } from "./job-options.ts";
import { NameSchema } from "./names.ts";
import { parseArgument, parseData } from "./validation.ts";
import { ChainBuilder, type ChainEntry, signedBy } from "./chain.ts";
import type { ChainRest } from "./workflow.ts";
import type { AuditSink } from "./audit-entry.ts";
import { DEFAULT_REDACTOR, type Redactor } from "./redaction.ts";

export type { EnqueuedJob } from "./job.ts";

/** One entry of `addBulk`. */
export interface BulkEntry<D extends JobDefinition = JobDefinition> {
  readonly job: D;
  readonly payload: PayloadInput<D>;
  readonly options?: JobOptions;
}

const PageSchema = v.strictObject({
  offset: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)), 100),
});
const StateSchema = v.picklist(JOB_STATES);
const FinishedOptionsSchema = v.strictObject({
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  recheckMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10))),
  signal: v.optional(v.instance(AbortSignal)),
});

/** Options of a hand-made change (cancel, retry). */
export interface ChangeOptions {
  /** Who makes the change, recorded on the job as `changedBy`. @default nobody named */
  by?: string;
}

const ChangeOptionsSchema = v.strictObject({ by: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))) });
const changer = (options: ChangeOptions) => parseArgument(ChangeOptionsSchema, options, "change options").by ?? null;

/**
 * The producer's and operator's view of one named queue: add jobs, look them up, cancel,
 * retry, pause. Workers consume it; events from every worker arrive on `events`.
 */
export class Queue {
  readonly name: string;
  readonly events: QueueEvents = new QueueEvents();
  readonly #store: QueueStore;
  readonly #clock: Clock;
  readonly #redactor: Redactor;
  readonly #definitions = new Map<string, JobDefinition>();
  readonly #audit: AuditSink | null;
  #subscription: Subscription | undefined;
  #subscribedTo = "";
  #closed = false;

  /** `audit`: where `cancel` and `retry` record who made them (the conveyor's audit log). */
  constructor(name: string, context: { store: QueueStore; clock: Clock; redactor?: Redactor; audit?: AuditSink }) {
    this.name = parseArgument(NameSchema, name, "queue name");
    this.#store = context.store;
    this.#clock = context.clock;
    this.#audit = context.audit ?? null;
    this.#redactor = context.redactor ?? DEFAULT_REDACTOR;
    this.events.onDemandChange = () => this.#follow();
    this.events.whenReady = () => this.#subscription?.ready ?? Promise.resolve();
  }

  /** @internal The store, clock and redactor, for workers of this queue and what broadcasts its events. */
  get context(): { readonly store: QueueStore; readonly clock: Clock; readonly redactor: Redactor } {
    return { store: this.#store, clock: this.#clock, redactor: this.#redactor };
  }

  /** Definitions this queue has seen, by name. */
  get definitions(): ReadonlyMap<string, JobDefinition> {
    return this.#definitions;
  }

  /** Makes job kinds known by name (for enqueueing by name over HTTP). */
  register(...definitions: JobDefinition[]): this {
    for (const definition of definitions) this.#remember(definition);
    return this;
  }

  /** Validates the payload against the definition's schema and enqueues one job. */
  async add<D extends JobDefinition>(job: D, payload: PayloadInput<D>, options?: JobOptions): Promise<EnqueuedJob<PayloadOutput<D>>> {
    const [added] = await this.#addAll([{ job, payload, options } as BulkEntry], null);
    return added as EnqueuedJob<PayloadOutput<D>>;
  }

  /**
   * A chain: this job first, then `.then(…)` steps in order, `.catch(…)` after a step fails for
   * good, `.finally(…)` either way; `.add()` stores them all with the first job. Each next step
   * is enqueued by the transition that ends the one before, so none is lost or doubled.
   * Also takes the steps as a list: `chain([{ job, payload? , options? }, …], { catch?, finally? })`.
   */
  chain<D extends JobDefinition>(job: D, payload: PayloadInput<D>, options?: JobOptions): ChainBuilder<PayloadOutput<D>>;
  chain(steps: readonly ChainEntry[], handlers?: { catch?: ChainEntry; finally?: ChainEntry }): Promise<EnqueuedJob>;
  chain(first: JobDefinition | readonly ChainEntry[], second?: unknown, third?: unknown): ChainBuilder | Promise<EnqueuedJob> {
    const builder = (job: JobDefinition, payload: unknown, options: JobOptions | undefined) =>
      new ChainBuilder(this.name, () => this.#clock.now(), async (chain) => (await this.#addAll([{ job, payload, options }], chain))[0]!);
    if (!Array.isArray(first)) return builder(first as JobDefinition, second, third as JobOptions | undefined);
    return (async () => {
      const steps = first as readonly ChainEntry[];
      if (steps.length === 0) throw new TypeError("chain() expects a non-empty array of { job, payload?, options? }");
      const chain = builder(steps[0]!.job, steps[0]!.payload, steps[0]!.options as JobOptions | undefined);
      const step = (kind: "then" | "catch" | "finally", entry: ChainEntry, where: string) => {
        try {
          if (!entry || typeof entry !== "object") throw new TypeError("expected { job, payload?, options? }");
          if ("payload" in entry) chain[kind](entry.job, entry.payload, entry.options);
          else chain[kind](entry.job, undefined, entry.options);
        } catch (error) {
          // Name the step: the same definition may appear at several places of a list.
          if (error instanceof TypeError || error instanceof RangeError) throw new (error.constructor as typeof TypeError)(`chain() ${where}: ${error.message}`);
          throw error;
        }
      };
      steps.slice(1).forEach((entry, i) => step("then", entry, `steps[${i + 1}]`));
      const handlers = (second ?? {}) as { catch?: ChainEntry; finally?: ChainEntry };
      if (handlers.catch) step("catch", handlers.catch, "catch");
      if (handlers.finally) step("finally", handlers.finally, "finally");
      return await chain.add();
    })();
  }

  /** Validates every entry first; enqueues all of them, in order, or none when one is invalid. */
  addBulk(entries: readonly BulkEntry[]): Promise<EnqueuedJob[]> {
    return this.#addAll(entries, null);
  }

  /** @internal A job as the store receives it: validated, with the queue's definition remembered. */
  newJob(entry: BulkEntry, now: number, what = "addBulk() entry"): NewJob {
    if (!entry || !isJobDefinition(entry.job)) throw new TypeError(`${what} needs a job definition made by defineJob()`);
    const definition = this.#remember(entry.job);
    // Depth first: a schema walking a 10,000-level payload could overflow the stack itself.
    checkJobData(entry.payload, `payload for job "${definition.name}"`);
    parseData(definition.schema, entry.payload, `payload for job "${definition.name}"`);
    return buildNewJob(definition.name, entry.payload, definition.defaults, entry.options, now);
  }

  async #addAll(entries: readonly BulkEntry[], chain: ChainRest | null): Promise<EnqueuedJob[]> {
    this.#open();
    if (!Array.isArray(entries)) throw new TypeError("addBulk() expects an array of { job, payload, options }");
    const now = this.#clock.now();
    const jobs = entries.map((entry, index) => {
      const job = this.newJob(entry, now, `addBulk() entry ${index}`);
      return chain === null ? job : { ...job, flow: { chain: signedBy(chain, job.createdBy), previous: null, parent: null, family: null } };
    });
    const results = await this.#store.enqueue(this.name, { jobs, now });
    // The store's copies are ours: tag them in place (a spread here is slow on V8 11).
    return results.map(({ job, created }) => Object.assign(job, { duplicate: !created }));
  }

  async get(id: string): Promise<Job | null> {
    return await this.#store.get(this.name, id);
  }

  /**
   * Waits for a job's outcome: resolves with its result when it completes, rejects with a
   * `ConveyorError` when it fails for good (`JOB_FAILED`, the last error as `cause`), is
   * cancelled (`JOB_CANCELLED`) or is not there (`JOB_NOT_FOUND`). Works for jobs run by
   * workers in any process sharing the store.
   */
  finished(job: string | { readonly id: string }, options: FinishedOptions = {}): Promise<unknown> {
    const id = typeof job === "string" ? job : job?.id;
    if (typeof id !== "string") throw new TypeError("finished() takes a job (as add() returned it) or a job id");
    const { timeoutMs, recheckMs, signal } = parseArgument(FinishedOptionsSchema, options, "finished() options");
    return waitForOutcome(this, id, this.#clock, { timeoutMs, recheckMs, signal });
  }

  /** Jobs in one state, a page at a time (see `QueueStore.list` for the order). */
  async list(state: JobState, page: { offset?: number; limit?: number } = {}): Promise<Job[]> {
    const s = parseArgument(StateSchema, state, "job state");
    return await this.#store.list(this.name, s, parseArgument(PageSchema, page, "page"));
  }

  async counts(): Promise<JobCounts> {
    return await this.#store.counts(this.name);
  }

  /**
   * Cancels a waiting, delayed or active job (an active job's signal is aborted). Returns the
   * state it was in.
   */
  async cancel(id: string, options: ChangeOptions = {}, /** @internal null when the caller writes its own audit entry */ audit: AuditSink | null = this.#audit): Promise<JobState> {
    const by = changer(options);
    const result = await this.#store.cancel(this.name, { id, now: this.#clock.now(), by });
    const note = (error: ConveyorError | null) => this.#note(audit, "job.cancel", id, by, error);
    if (result.status === "cancelled") {
      note(null);
      return result.previous;
    }
    throw note(result.status === "not-found"
      ? this.#notFound(id)
      : new ConveyorError("INVALID_STATE", `Job ${id} is already ${result.state}; only waiting, delayed or active jobs can be cancelled`));
  }

  /** Sends a failed, dead or cancelled job back to waiting with a fresh set of attempts. */
  async retry(id: string, options: ChangeOptions = {}, /** @internal null when the caller writes its own audit entry */ audit: AuditSink | null = this.#audit): Promise<Job> {
    const by = changer(options);
    const result = await this.#store.retry(this.name, { id, now: this.#clock.now(), by });
    const note = (error: ConveyorError | null) => this.#note(audit, "job.retry", id, by, error);
    switch (result.status) {
      case "retried":
        note(null);
        return result.job;
      case "not-found":
        throw note(this.#notFound(id));
      case "dedup-taken":
        throw note(new ConveyorError("INVALID_STATE", `Job ${id} cannot be retried while another job with its dedup key is pending`));
      case "not-retryable":
        throw note(new ConveyorError("INVALID_STATE", `Job ${id} is ${result.state}; only failed, dead or cancelled jobs can be retried`));
    }
  }

  /** The audit entry of a change made through this API: by `by`, or the system when nobody is named. Returns the error, to throw. */
  #note<E extends ConveyorError | null>(audit: AuditSink | null, action: string, jobId: string, by: string | null, error: E): E {
    audit?.record({
      action, queue: this.name, jobId, actor: by ?? "system", actorType: by === null ? "system" : "user",
      outcome: error ? "failed" : "ok", details: error ? { code: error.code } : null,
    });
    return error;
  }

  /** Deletes a job that is not active. */
  async remove(id: string): Promise<void> {
    const result = await this.#store.remove(this.name, { id, now: this.#clock.now() });
    if (result.status === "removed") return;
    if (result.status === "not-found") throw this.#notFound(id);
    throw new ConveyorError("INVALID_STATE", `Job ${id} is active; cancel it first, then remove it`);
  }

  /** Deletes finished jobs of one state older than `graceMs`; returns how many. */
  async clean(state: JobState, options: { graceMs?: number; limit?: number } = {}): Promise<number> {
    const s = parseArgument(StateSchema, state, "job state");
    if (!FINISHED_STATES.has(s)) throw new RangeError(`clean() takes a finished state (completed, failed, dead, cancelled), got "${s}"`);
    const graceMs = options.graceMs ?? 0;
    return await this.#store.clean(this.name, { state: s, cutoff: this.#clock.now() - graceMs, limit: options.limit ?? Number.MAX_SAFE_INTEGER });
  }

  /** Stops every worker of this queue, in every process, from starting new jobs. */
  async pause(): Promise<void> {
    await this.#store.setPaused(this.name, { paused: true, now: this.#clock.now() });
  }

  async resume(): Promise<void> {
    await this.#store.setPaused(this.name, { paused: false, now: this.#clock.now() });
  }

  async isPaused(): Promise<boolean> {
    return await this.#store.isPaused(this.name);
  }

  /** Stops delivering events and taking jobs; the jobs stay in the store. */
  close(): void {
    this.#closed = true;
    this.events.onDemandChange = undefined;
    this.#subscription?.close();
    this.#subscription = undefined;
  }

  /** Subscribes to exactly the event types someone listens to, so unwatched events cost nothing. */
  #follow(): void {
    const types = this.events.demand;
    const key = types.join();
    if (key === this.#subscribedTo) return;
    this.#subscription?.close();
    this.#subscription = types.length === 0
      ? undefined
      : this.#store.subscribe(this.name, (event) => this.events.deliver(event), types);
    this.#subscribedTo = key;
  }

  #remember(definition: JobDefinition): JobDefinition {
    const known = this.#definitions.get(definition.name);
    if (known === definition) return definition;
    if (known && known.schema !== definition.schema) {
      throw new TypeError(`Queue "${this.name}" already has a different definition named "${definition.name}"`);
    }
    this.#definitions.set(definition.name, definition);
    return definition;
  }

  #open(): void {
    if (this.#closed) throw new ConveyorError("QUEUE_CLOSED", `Queue "${this.name}" is closed`);
  }

  #notFound(id: string): ConveyorError {
    return new ConveyorError("JOB_NOT_FOUND", `No job ${id} in queue "${this.name}"`);
  }
}
