import type { Clock } from "./clock.ts";
import { ConveyorError } from "./errors.ts";
import type { ContextHost, RunningJob } from "./job-context.ts";
import type { Redactor } from "./redaction.ts";
import type { QueueStore } from "./store-contract.ts";

/**
 * What a running handler's context calls on the store (progress, log lines, durable steps), each
 * fenced by the job's lease token. Progress and logs after the attempt ended are dropped; a step
 * that cannot be recorded fails the handler, since a retry would run it again. Log lines are
 * redacted before they are stored: a store is outside the process.
 */
export class WorkerContextHost implements ContextHost {
  readonly #store: QueueStore;
  readonly #queue: string;
  readonly #clock: Clock;
  readonly #workerId: () => string;
  readonly #redactor: Redactor;

  constructor(store: QueueStore, queue: string, clock: Clock, workerId: () => string, redactor: Redactor) {
    this.#store = store;
    this.#queue = queue;
    this.#clock = clock;
    this.#workerId = workerId;
    this.#redactor = redactor;
  }

  async setProgress(running: RunningJob, progress: unknown): Promise<void> {
    if (running.settled) return;
    await this.#store.setProgress(this.#queue, { id: running.job.id, token: running.token, progress, now: this.#clock.now() });
  }

  async appendLog(running: RunningJob, line: string): Promise<void> {
    if (running.settled) return;
    await this.#store.appendLog(this.#queue, { id: running.job.id, token: running.token, line: this.#redactor.string(line) });
  }

  async saveStep(running: RunningJob, step: string, value: unknown): Promise<void> {
    const request = { id: running.job.id, token: running.token, step, value, now: this.#clock.now() };
    if (running.settled || !(await this.#store.saveStep(this.#queue, request))) {
      throw new ConveyorError("LEASE_LOST", `Worker ${this.#workerId()} no longer holds job ${running.job.id}; step "${step}" was not recorded`);
    }
  }
}
