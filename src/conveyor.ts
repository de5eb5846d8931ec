import { MemoryStore } from "./store/memory/store.ts";
import type { QueueStore } from "./core/store-contract.ts";
import { type Clock, systemClock } from "./core/clock.ts";
import { Queue } from "./core/queue.ts";
import { Worker } from "./core/worker.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler/scheduler.ts";
import type { WorkerOptions } from "./core/worker-options.ts";

export interface ConveyorOptions {
  /** Where jobs live. @default a new MemoryStore */
  store?: QueueStore;
  /** Source of time for every queue and worker. @default systemClock */
  clock?: Clock;
}

/**
 * One store, one clock, and the queues and workers on them. Close it to stop every worker
 * (each waits for its running jobs) and release the store.
 */
export class Conveyor {
  readonly store: QueueStore;
  readonly clock: Clock;
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Set<Worker>();
  readonly #schedulers = new Set<Scheduler>();

  constructor(options: ConveyorOptions = {}) {
    this.store = options.store ?? new MemoryStore();
    this.clock = options.clock ?? systemClock;
  }

  /** The queue with this name (the same object on every call). */
  queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, { store: this.store, clock: this.clock });
      this.#queues.set(name, queue);
    }
    return queue;
  }

  get queues(): ReadonlyMap<string, Queue> {
    return this.#queues;
  }

  /** A worker for the named queue; it starts on the next microtask unless `autostart: false`. */
  worker(queue: string | Queue, options?: WorkerOptions): Worker {
    const worker = new Worker(typeof queue === "string" ? this.queue(queue) : queue, options);
    this.#workers.add(worker);
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

  /** Closes every worker (waiting for running jobs up to `timeoutMs`), every queue, then the store. */
  /** Every worker's `drain()`: for request-scoped runtimes, `ctx.waitUntil(conveyor.drain())`. */
  async drain(): Promise<void> {
    await Promise.all([...this.#workers].map((worker) => worker.drain()));
  }

  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    for (const scheduler of this.#schedulers) scheduler.close();
    await Promise.all([...this.#workers].map((worker) => worker.close(options)));
    for (const queue of this.#queues.values()) queue.close();
    await this.store.close();
  }
}

export function createConveyor(options?: ConveyorOptions): Conveyor {
  return new Conveyor(options);
}
