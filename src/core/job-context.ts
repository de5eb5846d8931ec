import type { Outcome } from "./store-contract.ts";
import type { TimerHandle } from "./clock.ts";
import type { Job } from "./job.ts";
import { jobDataError } from "./job-data.ts";

/** What a handler gets besides its payload. */
export interface JobContext {
  /** The job as it was claimed. */
  readonly job: Job;
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  /** 1 on the first try, 2 on the first retry, and so on. */
  readonly attempt: number;
  /**
   * Aborted when the job times out (`JOB_TIMEOUT`), is cancelled (`JOB_CANCELLED`), its lease is
   * lost (`LEASE_LOST`) or the worker shuts down (`WORKER_CLOSED`); `signal.reason` says which.
   */
  readonly signal: AbortSignal;
  /** Records progress (any JSON value nested at most `MAX_DATA_DEPTH` deep, else `VALIDATION_FAILED`) and emits a `progress` event. */
  progress(value: unknown): Promise<void>;
  /** Appends a line to the job's log. */
  log(line: string): Promise<void>;
}

/** The worker operations a context calls. */
export interface ContextHost {
  setProgress(running: RunningJob, value: unknown): Promise<void>;
  appendLog(running: RunningJob, line: string): Promise<void>;
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

  log(line: string): Promise<void> {
    if (typeof line !== "string") return Promise.reject(new TypeError("log() expects a string"));
    return this.#host.appendLog(this, line);
  }
}
