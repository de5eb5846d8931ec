import type { Outcome } from "./store-contract.ts";
import type { TimerHandle } from "./clock.ts";
import type { Job } from "./job.ts";
import { ConveyorError } from "./errors.ts";
import { jobDataError } from "./job-data.ts";
import type { ChildOutcome, PreviousStep } from "./workflow.ts";

/** What a handler gets besides its payload. */
export interface JobContext {
  /** The job as it was claimed. */
  readonly job: Job;
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  /** 1 on the first try, 2 on the first retry, and so on. */
  readonly attempt: number;
  /** In a chain: what the step before left (its result, or its error when this is a catch or finally step); else null. */
  readonly previous: PreviousStep | null;
  /** In a flow: how each child of this job ended, in the order they ended (failures of `ignore` children left out). */
  readonly children: readonly ChildOutcome[];
  /**
   * Aborted when the job times out (`JOB_TIMEOUT`), is cancelled (`JOB_CANCELLED`), its lease is
   * lost (`LEASE_LOST`) or the worker shuts down (`WORKER_CLOSED`); `signal.reason` says which.
   */
  readonly signal: AbortSignal;
  /** Records progress (any JSON value nested at most `MAX_DATA_DEPTH` deep, else `VALIDATION_FAILED`) and emits a `progress` event. */
  progress(value: unknown): Promise<void>;
  /** Appends a line to the job's log. */
  log(line: string): Promise<void>;
  /**
   * A durable step: runs `fn` once for this job, across attempts and workers. Its result is
   * stored on the job (`job.steps[name]`, any job data), and a later attempt (a retry, or another
   * worker taking over after a crash) gets the stored result without running `fn` again. A step
   * that throws stores nothing. `undefined` is stored (and returned) as `null`, as JSON has no
   * undefined. Name steps uniquely within a job.
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
}

/** The worker operations a context calls. */
export interface ContextHost {
  setProgress(running: RunningJob, value: unknown): Promise<void>;
  appendLog(running: RunningJob, line: string): Promise<void>;
  /** Stores a step's result; rejects (LEASE_LOST) when the worker no longer holds the job. */
  saveStep(running: RunningJob, step: string, value: unknown): Promise<void>;
}

/**
 * One job a worker is running. The same object is the handler's context (typed as
 * `JobContext`, so the worker's bookkeeping stays out of the handler's view): one
 * allocation per job instead of two.
 */
export class RunningJob implements JobContext {
  readonly job: Job;
  readonly token: string;
  readonly #host: ContextHost;
  /** Made on first use of `signal`: most handlers never look at it. */
  controller: AbortController | undefined = undefined;
  /** The first outcome has been taken; later ones are ignored. */
  settled = false;
  timer: TimerHandle | undefined = undefined;
  /** The outcome waiting to go to the store in the worker's next batch. */
  outcome: Outcome | undefined = undefined;
  /**
   * Until when, on the worker's clock, the lease surely holds: the send time of the last
   * claim or renewal the store confirmed, plus the lease. Past it another worker may take the job.
   */
  leaseSureUntil = 0;
  /** Steps finished so far, the job's stored ones first; made on the first `step` call. */
  #steps: Record<string, unknown> | undefined = undefined;

  constructor(job: Job, host: ContextHost) {
    this.job = job;
    this.token = job.lease!.token;
    this.#host = host;
  }

  get id(): string {
    return this.job.id;
  }
  get name(): string {
    return this.job.name;
  }
  get queue(): string {
    return this.job.queue;
  }
  get previous(): PreviousStep | null {
    return this.job.flow?.previous ?? null;
  }
  get children(): readonly ChildOutcome[] {
    return this.job.flow?.family?.outcomes ?? [];
  }
  get attempt(): number {
    return this.job.attemptsMade + 1;
  }
  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  progress(value: unknown): Promise<void> {
    const unstorable = jobDataError(value, `progress of job ${this.job.id}`);
    if (unstorable) return Promise.reject(unstorable);
    return this.#host.setProgress(this, value);
  }

  async step<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    if (typeof name !== "string" || name.length === 0 || name.length > 200) {
      throw new TypeError("step() needs a name: a string of 1 to 200 characters, unique within the job");
    }
    if (typeof fn !== "function") throw new TypeError(`step("${name}") needs a function to run`);
    const done = this.#steps ??= { ...this.job.steps };
    if (Object.hasOwn(done, name)) return done[name] as T;
    const value = (await fn()) ?? null;
    const what = `result of step "${name}" of job ${this.job.id}`;
    const unstorable = jobDataError(value, what) ?? notJson(value, what);
    if (unstorable) throw unstorable;
    await this.#host.saveStep(this, name, value);
    Object.defineProperty(done, name, { value, writable: true, enumerable: true, configurable: true });
    return value as T;
  }

  log(line: string): Promise<void> {
    if (typeof line !== "string") return Promise.reject(new TypeError("log() expects a string"));
    return this.#host.appendLog(this, line);
  }
}

/** Every store keeps step results as JSON: a BigInt, or a toJSON that throws, could never be read back. */
function notJson(value: unknown, what: string): ConveyorError | null {
  try {
    JSON.stringify(value);
    return null;
  } catch {
    return new ConveyorError("VALIDATION_FAILED", `Invalid ${what}: expected a value JSON can hold (no BigInt, no cycles)`, {
      issues: [{ path: "", message: "expected JSON data" }],
    });
  }
}
