import type { Job } from "./job.ts";

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
  /** Records progress (any JSON value) and emits a `progress` event. */
  progress(value: unknown): Promise<void>;
  /** Appends a line to the job's log. */
  log(line: string): Promise<void>;
}

/** The worker's side of a running job, which the context reads from. */
export interface RunningJob {
  readonly job: Job;
  readonly token: string;
  controller: AbortController | undefined;
}

/** The worker operations a context calls; kept narrow so the context stays a thin view. */
export interface ContextHost {
  setProgress(running: RunningJob, value: unknown): Promise<void>;
  appendLog(running: RunningJob, line: string): Promise<void>;
}

export class HandlerContext implements JobContext {
  readonly #running: RunningJob;
  readonly #host: ContextHost;

  constructor(running: RunningJob, host: ContextHost) {
    this.#running = running;
    this.#host = host;
  }

  get job(): Job {
    return this.#running.job;
  }
  get id(): string {
    return this.#running.job.id;
  }
  get name(): string {
    return this.#running.job.name;
  }
  get queue(): string {
    return this.#running.job.queue;
  }
  get attempt(): number {
    return this.#running.job.attemptsMade + 1;
  }
  /** Made on first use: most handlers never look at it. */
  get signal(): AbortSignal {
    return (this.#running.controller ??= new AbortController()).signal;
  }

  progress(value: unknown): Promise<void> {
    return this.#host.setProgress(this.#running, value);
  }

  log(line: string): Promise<void> {
    if (typeof line !== "string") return Promise.reject(new TypeError("log() expects a string"));
    return this.#host.appendLog(this.#running, line);
  }
}
