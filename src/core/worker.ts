import type { Clock, TimerHandle } from "./clock.ts";
import type { JobDefinition } from "./define-job.ts";
import type { Queue } from "./queue.ts";
import type { JobHandler, Registered } from "./worker-attempt.ts";
import { WorkerEventTarget } from "./worker-events.ts";
import { type LaneHost, WorkerLane } from "./worker-lane.ts";
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions, type WorkerRateLimit } from "./worker-options.ts";
import { type OutcomeListener, OutcomeListeners } from "./worker-outcomes.ts";
import { queueWeights, workerQueues } from "./worker-queues.ts";
import { SlotBudget } from "./worker-slots.ts";
import { Waiters } from "./waiters.ts";

export type { JobHandler } from "./worker-attempt.ts";
export type { AttemptResult, OutcomeListener } from "./worker-outcomes.ts";

export { WorkerErrorEvent } from "./worker-events.ts";

type WorkerState = "idle" | "running" | "paused" | "closing" | "closed";

/**
 * Takes jobs from one queue, or from several in the order given (`order`), and runs their
 * handlers, at most `concurrency` at once in all, highest priority first within a queue. Leases
 * are renewed while handlers run; timeouts, cancellation and shutdown reach handlers through
 * their `AbortSignal`. Nothing a handler or the store throws stops it.
 */
export class Worker extends WorkerEventTarget {
  /** The queue this worker serves (the first, for a worker of several). */
  readonly queue: Queue;
  /** Every queue this worker serves, in its order. */
  readonly queues: readonly Queue[];
  #id: string | undefined;
  readonly #clock: Clock;
  readonly #concurrency: number;
  readonly #closeTimeoutMs: number;
  readonly #handlers = new Map<string, Registered>();
  readonly #lanes: WorkerLane[] = [];
  readonly #outcomes = new OutcomeListeners();
  readonly #settings: ResolvedWorkerOptions;
  readonly #rateLimits: readonly WorkerRateLimit[];
  #state: WorkerState = "idle";
  #closing: Promise<void> | undefined;
  /** Callers of `whenIdle`: no handler running. */
  readonly #idle = new Waiters(() => this.activeCount === 0);
  /** Callers of `drain`: nothing running, nothing asked of the store, nothing more to claim. */
  readonly #quiet = new Waiters(() => this.activeCount === 0 && this.#lanes.every((lane) => lane.pump.quiet));
  #markStarted!: () => void;
  readonly #started = new Promise<void>((resolve) => this.#markStarted = resolve);

  constructor(queues: Queue | readonly Queue[], options: WorkerOptions = {}) {
    super();
    const { id, rateLimits, settings } = resolveWorkerOptions(options);
    this.queues = workerQueues(queues);
    this.queue = this.queues[0]!;
    this.#clock = this.queue.context.clock;
    this.redactor = this.queue.context.redactor;
    this.#id = id;
    this.#concurrency = settings.concurrency;
    this.#settings = settings;
    this.#rateLimits = rateLimits;
    this.#closeTimeoutMs = settings.closeTimeoutMs;
    const pumps: WorkerLane["pump"][] = [];
    const host: LaneHost = {
      workerId: () => this.id,
      clock: this.#clock,
      settings,
      limits: rateLimits,
      budget: new SlotBudget(settings.concurrency, pumps, queueWeights(this.queues, settings.order)),
      isRunning: () => this.#state === "running",
      handlers: this.#handlers,
      pumpAll: () => this.#pumpAll(),
      tracked: (work) => this.#clock.track ? this.#clock.track(work) : work,
      reportError: (error, queue) => this.reportError(error, `worker ${this.id} on queue "${queue}"`, queue),
      settled: () => {
        this.#idle.notify();
        this.#quiet.notify();
      },
      outcomes: this.#outcomes,
    };
    for (const queue of this.queues) this.#lanes.push(new WorkerLane(queue, host));
    for (const lane of this.#lanes) pumps.push(lane.pump);
    if (settings.autostart) queueMicrotask(() => this.start());
  }

  /**
   * Names this worker in leases and events. A random one is made on first use, not in the
   * constructor: Workers (workerd) forbid random values at module scope, where apps build workers.
   */
  get id(): string {
    return this.#id ??= crypto.randomUUID();
  }

  /** Registers the handler for one kind of job, in every queue of this worker. */
  handle<D extends JobDefinition>(definition: D, handler: JobHandler<D>): this {
    if (typeof handler !== "function") throw new TypeError(`handle("${definition.name}") expects a function`);
    for (const queue of this.queues) queue.register(definition);
    this.#handlers.set(definition.name, { definition, handler: handler as JobHandler<JobDefinition> });
    return this;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /** The settings this worker runs with (defaults filled in), for health reports. */
  get settings(): Readonly<ResolvedWorkerOptions> {
    return this.#settings;
  }

  /** The rate limits jobs start within. */
  get rateLimits(): readonly WorkerRateLimit[] {
    return this.#rateLimits;
  }

  /**
   * Calls `listener(queue, result, durationMs, at)` for each attempt this worker finished, once
   * the store recorded it (`result`: completed, retried or failed for good). It runs on the hot
   * path: keep it to counting. Returns a function that removes it.
   */
  onOutcome(listener: OutcomeListener): () => void {
    return this.#outcomes.add(listener);
  }

  /** Jobs whose handlers are running now, in all queues. */
  get activeCount(): number {
    let count = 0;
    for (const lane of this.#lanes) count += lane.running.size;
    return count;
  }

  get isRunning(): boolean {
    return this.#state === "running";
  }

  /** Starts taking jobs (done for you unless `autostart: false`). */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#markStarted();
    for (const lane of this.#lanes) lane.start();
  }

  /**
   * Resolves once the worker hears its queues' events (new jobs, cancellations). With a store
   * shared across processes that takes a round trip after `start()`.
   */
  async ready(): Promise<void> {
    await this.#started;
    await Promise.all(this.#lanes.map((lane) => lane.ready()));
  }

  /**
   * Stops this worker taking new jobs, from every queue or from the one named (the others go
   * on); running ones go on.
   */
  pause(queue?: string | Queue): void {
    if (queue !== undefined) this.#lane(queue, "pause").paused = true;
    else if (this.#state === "running") this.#state = "paused";
  }

  /** Takes jobs again: from every queue, or from the one named if it was paused on its own. */
  resume(queue?: string | Queue): void {
    if (queue !== undefined) {
      const lane = this.#lane(queue, "resume");
      if (!lane.paused) return;
      lane.paused = false;
      return lane.wake();
    }
    if (this.#state !== "paused") return;
    this.#state = "running";
    for (const lane of this.#lanes) lane.wake();
  }

  /** Resolves when no handler is running (at once if none is). */
  whenIdle(): Promise<void> {
    return this.#idle.wait();
  }

  /**
   * Takes jobs until none is due and no handler runs, then resolves (delayed jobs stay for
   * later). For runtimes that run code only while a request or trigger is handled, such as
   * Cloudflare Workers: `ctx.waitUntil(worker.drain())`. Starts the worker if it was not.
   */
  async drain(): Promise<void> {
    this.start();
    await this.ready();
    for (const lane of this.#lanes) lane.wake();
    await this.#quiet.wait();
  }

  /**
   * Stops taking jobs and waits for running ones up to `timeoutMs`; jobs still running then
   * have their signal aborted and go back to their queue for another worker.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? this.#closeTimeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    if (this.#state === "idle") {
      this.#state = "closed";
      return;
    }
    this.#state = "closing";
    for (const lane of this.#lanes) lane.stopTaking();
    if (this.activeCount > 0) {
      let deadline: TimerHandle | undefined;
      const timedOut = await Promise.race([
        this.whenIdle().then(() => false),
        new Promise<boolean>((resolve) => deadline = this.#clock.setTimeout(() => resolve(true), timeoutMs)),
      ]);
      this.#clock.clearTimeout(deadline);
      if (timedOut) await Promise.all(this.#lanes.map((lane) => lane.giveBackRunning()));
      // Outcomes already gathered still go to the store before the worker lets go.
      await this.whenIdle();
    }
    for (const lane of this.#lanes) lane.stop();
    this.#state = "closed";
    this.#quiet.notify();
  }

  /** Every queue's pump claims what the budget gives it, first queue first. */
  #pumpAll(): void {
    const lanes = this.#lanes;
    for (let i = 0; i < lanes.length; i++) lanes[i]!.pump.pump();
  }

  #lane(queue: string | Queue, method: string): WorkerLane {
    const name = typeof queue === "string" ? queue : queue?.name;
    const lane = this.#lanes.find((l) => l.queue.name === name);
    if (lane) return lane;
    const names = this.queues.map((q) => `"${q.name}"`).join(", ");
    throw new RangeError(`${method}(${typeof name === "string" ? `"${name}"` : ""}) names no queue of this worker; expected one of ${names}`);
  }
}
