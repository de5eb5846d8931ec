import { MemoryStore } from "./store/memory/store.ts";
import type { QueueStore } from "./core/store-contract.ts";
import { type Clock, systemClock } from "./core/clock.ts";
import { Queue } from "./core/queue.ts";
import { Worker } from "./core/worker.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler/scheduler.ts";
import type { WorkerOptions } from "./core/worker-options.ts";
import { type RedactionOptions, Redactor } from "./core/redaction.ts";
import { AuditLog } from "./core/audit.ts";
import type { AuditOptions } from "./core/audit-options.ts";
import { Health } from "./core/health.ts";
import type { HealthOptions } from "./core/health-types.ts";
import {
  addBatch, addFlow, type BatchEntry, type BatchOptions, type BatchProgress, batchProgress, type FlowJob, type FlowSpec, readFlow,
} from "./core/flow.ts";

export interface ConveyorOptions {
  /** Where jobs live. @default a new MemoryStore */
  store?: QueueStore;
  /** Source of time for every queue and worker. @default systemClock */
  clock?: Clock;
  /**
   * How secrets are kept out of logs, errors, events, console lines and HTTP answers: see
   * `RedactionOptions`. @default on, with the built-in rules
   */
  redaction?: RedactionOptions;
  /** The audit log: `true` for `AUDIT_DEFAULTS`, or what to change of them. @default false (nothing recorded) */
  audit?: AuditOptions | boolean;
  /** Health checks, their time limits, and how often figures are written: see `HealthOptions`. @default HEALTH_DEFAULTS, no custom checks */
  health?: HealthOptions;
}

/**
 * One store, one clock, and the queues and workers on them. Close it to stop every worker
 * (each waits for its running jobs) and release the store.
 */
export class Conveyor {
  readonly store: QueueStore;
  readonly clock: Clock;
  /** Redacts what this conveyor's workers store and what its HTTP app and broadcasts send. */
  readonly redactor: Redactor;
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Set<Worker>();
  readonly #schedulers = new Set<Scheduler>();
  /** Who did what, when and from where: `conveyor.audit.query({ queue, action })`. */
  readonly audit: AuditLog;
  /** Dependency checks, the configuration in force and the last 24 hours' figures: `conveyor.health.report()`. */
  readonly health: Health;

  constructor(options: ConveyorOptions = {}) {
    this.store = options.store ?? new MemoryStore();
    this.clock = options.clock ?? systemClock;
    this.redactor = new Redactor(options.redaction);
    this.audit = new AuditLog(this.store, this.clock, options.audit, (value) => this.redactor.json(value));
    this.health = new Health(this, options.health);
  }

  /** The queue with this name (the same object on every call). */
  queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, { store: this.store, clock: this.clock, redactor: this.redactor, audit: this.audit });
      this.#queues.set(name, queue);
      this.audit.watch(queue);
    }
    return queue;
  }

  get queues(): ReadonlyMap<string, Queue> {
    return this.#queues;
  }

  /**
   * A worker for the named queue, or for several under one `concurrency` (first listed first, or
   * by `order: { weights }`); it starts on the next microtask unless `autostart: false`.
   */
  worker(queues: string | Queue | readonly (string | Queue)[], options?: WorkerOptions): Worker {
    const named = (queue: string | Queue) => typeof queue === "string" ? this.queue(queue) : queue;
    const worker = new Worker(Array.isArray(queues) ? queues.map(named) : named(queues as string | Queue), options);
    this.#workers.add(worker);
    this.health.watch(worker);
    return worker;
  }

  get workers(): ReadonlySet<Worker> {
    return this.#workers;
  }

  /** A scheduler firing the schedules stored in this conveyor's store; it starts on the next microtask unless `autostart: false`. */
  scheduler(options?: SchedulerOptions): Scheduler {
    const scheduler = new Scheduler(this, options);
    this.#schedulers.add(scheduler);
    return scheduler;
  }

  /**
   * Adds a flow: a parent job and its children (in any queues, nested up to `MAX_FLOW_DEPTH`) in
   * one atomic call. A parent waits in `waiting-children` until every child has ended, then runs
   * and reads their results from `ctx.children`; each child's `onFailure` says what its failure
   * does to the parent. Cancelling a parent cancels its pending children.
   */
  flow(root: FlowSpec): Promise<FlowJob> {
    return addFlow(this, root);
  }

  /** A flow's jobs as they are now, from the job given down. */
  getFlow(queue: string, id: string): Promise<FlowJob | null> {
    return readFlow(this.store, queue, id);
  }

  /**
   * Adds a batch: jobs that run independently, and `then` (all completed), `catch` (the batch
   * failed) and `finally` (either way) steps that run once they have all ended. Without
   * `allowFailures` the first failure ends the batch and cancels the jobs still pending.
   * Cancel a batch with `queue.cancel(batch.id)` on its queue.
   */
  batch(entries: readonly BatchEntry[], options?: BatchOptions): Promise<BatchProgress> {
    return addBatch(this, entries, options);
  }

  /** A batch's progress; null when there is no such batch (or retention deleted it). */
  async getBatch(queue: string, id: string): Promise<BatchProgress | null> {
    const job = await this.store.get(queue, id);
    return job ? batchProgress(job) : null;
  }

  /** Every worker's `drain()`: for request-scoped runtimes, `ctx.waitUntil(conveyor.drain())`. */
  async drain(): Promise<void> {
    await Promise.all([...this.#workers].map((worker) => worker.drain()));
  }

  /**
   * Closes every worker (waiting for running jobs up to `timeoutMs`), writes the health figures
   * counted since the last flush (within the health deadline) and the audit entries still
   * buffered, closes every queue, then the store.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    for (const scheduler of this.#schedulers) scheduler.close();
    await Promise.all([...this.#workers].map((worker) => worker.close(options)));
    await this.health.close();
    await this.audit.close();
    for (const queue of this.#queues.values()) queue.close();
    await this.store.close();
  }
}

export function createConveyor(options?: ConveyorOptions): Conveyor {
  return new Conveyor(options);
}
