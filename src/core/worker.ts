import type { QueueStore, Subscription } from "./store-contract.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import type { JobDefinition } from "./define-job.ts";
import { ConveyorError } from "./errors.ts";
import type { ConveyorEventData, ConveyorEventType } from "./events.ts";
import type { Job } from "./job.ts";
import { RunningJob } from "./job-context.ts";
import { WorkerContextHost } from "./worker-context-host.ts";
import type { Queue } from "./queue.ts";
import { assertSafeForWorkers } from "./safety.ts";
import { admitOrHold } from "./worker-admission.ts";
import { type AttemptHost, type AttemptOutcome, type JobHandler, type Registered, runAttempt, storeOutcome } from "./worker-attempt.ts";
import { type ResolvedWorkerOptions, resolveWorkerOptions, type WorkerOptions, type WorkerRateLimit } from "./worker-options.ts";
import { Waiters } from "./waiters.ts";
import { warnIfUnwatched, WorkerEventTarget } from "./worker-events.ts";
import { WorkerPump } from "./worker-pump.ts";
import { WorkerUpkeep } from "./worker-upkeep.ts";
import { WorkerWakeups } from "./worker-wakeups.ts";

export type { JobHandler } from "./worker-attempt.ts";

export { WorkerErrorEvent } from "./worker-events.ts";

type WorkerState = "idle" | "running" | "paused" | "closing" | "closed";

/** The events a worker acts on: new work, and cancellation of its own jobs. */
const WAKE_EVENTS: readonly ConveyorEventType[] = ["enqueued", "resumed", "cancelled"];

/**
 * Takes jobs from one queue and runs their handlers, at most `concurrency` at once, highest
 * priority first. Leases are renewed while handlers run; timeouts, cancellation and shutdown
 * reach handlers through their `AbortSignal`. Nothing a handler or the store throws stops it.
 */
export class Worker extends WorkerEventTarget {
  readonly queue: Queue;
  #id: string | undefined;
  readonly #store: QueueStore;
  readonly #clock: Clock;
  readonly #options: ResolvedWorkerOptions;
  readonly #handlers = new Map<string, Registered>();
  readonly #running = new Map<string, RunningJob>();
  #state: WorkerState = "idle";
  readonly #pump: WorkerPump;
  readonly #wakeups: WorkerWakeups;
  readonly #upkeep: WorkerUpkeep;
  readonly #attemptHost: AttemptHost;
  readonly #contextHost: WorkerContextHost;
  #subscription: Subscription | undefined;
  #closing: Promise<void> | undefined;
  /** Callers of `whenIdle`: no handler running. */
  readonly #idle = new Waiters(() => this.#running.size === 0);
  /** Callers of `drain`: nothing running, nothing asked of the store, nothing more to claim. */
  readonly #quiet = new Waiters(() => this.#running.size === 0 && this.#pump.quiet);
  #markStarted!: () => void;
  readonly #limits: readonly WorkerRateLimit[];
  readonly #started = new Promise<void>((resolve) => this.#markStarted = resolve);

  constructor(queue: Queue, options: WorkerOptions = {}) {
    super();
    const { id, rateLimits, settings } = resolveWorkerOptions(options);
    this.queue = queue;
    this.#store = queue.context.store;
    assertSafeForWorkers(this.#store, queue.name);
    this.#clock = queue.context.clock;
    this.#id = id;
    this.#limits = rateLimits;
    this.#options = settings;
    this.#contextHost = new WorkerContextHost(this.#store, queue.name, this.#clock, () => this.id);
    this.#wakeups = new WorkerWakeups(this.#clock, () => this.#wake());
    this.#attemptHost = {
      workerId: () => this.id,
      clock: this.#clock,
      settle: (running, outcome) => this.#settle(running, outcome),
      abort: (running, reason) => this.#abort(running, reason),
    };
    this.#pump = new WorkerPump({
      workerId: () => this.id,
      queueName: queue.name,
      store: this.#store,
      clock: this.#clock,
      concurrency: this.#options.concurrency,
      leaseMs: this.#options.leaseMs,
      running: this.#running,
      mayClaim: () => this.#state === "running" && !this.#wakeups.holdingForLimit(),
      start: (job, sureUntil) => this.#start(job, sureUntil),
      giveBack: (job) => void this.#giveBackLate(job),
      dueAt: (at) => this.#armDueTimer(at),
      retryLater: () => this.#retryLater(),
      tracked: (work) => this.#tracked(work),
      reportError: (error) => this.#reportError(error),
      settled: () => {
        this.#idle.notify();
        this.#quiet.notify();
      },
      failedForGood: (running, state) => warnIfUnwatched(this.queue, running, state),
    });
    this.#upkeep = new WorkerUpkeep({
      workerId: () => this.id,
      queueName: queue.name,
      store: this.#store,
      clock: this.#clock,
      leaseMs: this.#options.leaseMs,
      stallCheckMs: this.#options.stallCheckMs,
      maxStalls: this.#options.maxStalls,
      running: () => this.#running.values(),
      drop: (running, reason) => this.#abortAndDrop(running, reason),
      tracked: (work) => this.#tracked(work),
      reportError: (error) => this.#reportError(error),
      wake: () => this.#wake(),
    });
    if (this.#options.autostart) queueMicrotask(() => this.start());
  }

  /**
   * Names this worker in leases and events. A random one is made on first use, not in the
   * constructor: Workers (workerd) forbid random values at module scope, where apps build workers.
   */
  get id(): string {
    return this.#id ??= crypto.randomUUID();
  }

  /** Registers the handler for one kind of job. */
  handle<D extends JobDefinition>(definition: D, handler: JobHandler<D>): this {
    if (typeof handler !== "function") throw new TypeError(`handle("${definition.name}") expects a function`);
    this.queue.register(definition);
    this.#handlers.set(definition.name, { definition, handler: handler as JobHandler<JobDefinition> });
    return this;
  }

  get concurrency(): number {
    return this.#options.concurrency;
  }

  /** Jobs whose handlers are running now. */
  get activeCount(): number {
    return this.#running.size;
  }

  get isRunning(): boolean {
    return this.#state === "running";
  }

  /** Starts taking jobs (done for you unless `autostart: false`). */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#markStarted();
    this.#subscription = this.#store.subscribe(this.queue.name, (event) => this.#onEvent(event), WAKE_EVENTS);
    // Jobs added before the subscription was live sent their wake-up to nobody: look again.
    this.#subscription.ready.then(() => this.#wake(), (error) => this.#reportError(error));
    this.#upkeep.start();
    this.#wake();
  }

  /**
   * Resolves once the worker hears its queue's events (new jobs, cancellations). With a store
   * shared across processes that takes a round trip after `start()`.
   */
  async ready(): Promise<void> {
    await this.#started;
    await this.#subscription?.ready;
  }

  /** Stops this worker taking new jobs; running ones go on. */
  pause(): void {
    if (this.#state === "running") this.#state = "paused";
  }

  resume(): void {
    if (this.#state !== "paused") return;
    this.#state = "running";
    this.#wake();
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
    this.#wake();
    await this.#quiet.wait();
  }

  /**
   * Stops taking jobs and waits for running ones up to `timeoutMs`; jobs still running then
   * have their signal aborted and go back to the queue for another worker.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? this.#options.closeTimeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    if (this.#state === "idle") {
      this.#state = "closed";
      return;
    }
    this.#state = "closing";
    this.#wakeups.clear();
    this.#upkeep.stopStallChecks();
    if (this.#running.size > 0) {
      let deadline: TimerHandle | undefined;
      const timedOut = await Promise.race([
        this.whenIdle().then(() => false),
        new Promise<boolean>((resolve) => deadline = this.#clock.setTimeout(() => resolve(true), timeoutMs)),
      ]);
      this.#clock.clearTimeout(deadline);
      if (timedOut) await this.#giveBackRunning();
      // Outcomes already gathered still go to the store before the worker lets go.
      await this.whenIdle();
    }
    this.#upkeep.stop();
    this.#subscription?.close();
    this.#state = "closed";
    this.#quiet.notify();
  }

  /** Aborts handlers still running at the close deadline and returns their jobs to waiting. */
  async #giveBackRunning(): Promise<void> {
    const unsettled = [...this.#running.values()].filter((running) => !running.settled);
    await Promise.all(unsettled.map((running) => {
      // Settled first, so a handler that rejects on abort does not spend an attempt.
      this.#settle(running, { kind: "dropped" });
      this.#abort(running, new ConveyorError("WORKER_CLOSED", `Worker ${this.id} closed while job ${running.job.id} was running`));
      return this.#giveBack(running.job.id, running.token);
    }));
  }

  /**
   * Gives a held job back to the queue unrun (now, or delayed until `runAt`). When the store
   * fails, the lease lapses and a stall check requeues the job: late, never lost.
   */
  async #giveBack(id: string, token: string, runAt?: number): Promise<boolean> {
    try {
      return await this.#store.release(this.queue.name, { id, token, now: this.#clock.now(), runAt });
    } catch (error) {
      this.#reportError(error);
      return false;
    }
  }

  #onEvent(event: ConveyorEventData): void {
    switch (event.type) {
      case "enqueued":
      case "resumed":
        this.#wake();
        return;
      case "cancelled": {
        const running = this.#running.get(event.jobId);
        if (running) this.#abortAndDrop(running, new ConveyorError("JOB_CANCELLED", `Job ${event.jobId} was cancelled`));
        return;
      }
    }
  }

  #wake(): void {
    this.#pump.wake();
  }

  #start(job: Job, leaseSureUntil: number): void {
    const running = new RunningJob(job, this.#contextHost);
    running.leaseSureUntil = leaseSureUntil;
    this.#running.set(job.id, running);
    if (this.#limits.length > 0) void this.#admit(running);
    else this.#run(running);
  }

  async #giveBackLate(job: Job): Promise<void> {
    await this.#giveBack(job.id, job.lease!.token);
    this.#wake();
  }

  /**
   * A job starts only within every rate limit; over one, it goes back to the queue delayed until
   * it may run, its attempt unspent. Over the queue-wide limit, the worker also stops claiming
   * until then (the next jobs would be refused too).
   */
  async #admit(running: RunningJob): Promise<void> {
    const { job } = running;
    const reportError = (error: unknown) => this.#reportError(error);
    const { waitMs, queueWide } = await admitOrHold(job, this.#limits, `queue:${this.queue.name}`, this.#options.errorRetryMs, reportError);
    if (running.settled) return; // cancelled or closed meanwhile
    if (waitMs === 0) return this.#run(running);
    const runAt = this.#clock.now() + waitMs;
    if (queueWide) this.#wakeups.limitUntil(runAt);
    this.#settle(running, { kind: "dropped" });
    if (await this.#giveBack(job.id, running.token, runAt)) this.#armDueTimer(runAt);
  }

  #run(running: RunningJob): void {
    runAttempt(running, this.#handlers.get(running.job.name), this.#attemptHost);
  }

  /** Takes the first outcome of a running job; later ones (a handler finishing after its timeout) are ignored. */
  #settle(running: RunningJob, outcome: AttemptOutcome): void {
    if (running.settled) return;
    running.settled = true;
    if (running.timer !== undefined) this.#clock.clearTimeout(running.timer);
    if (outcome.kind === "dropped") {
      this.#running.delete(running.job.id);
      this.#idle.notify();
    } else {
      const custom = this.#handlers.get(running.job.name)?.definition.backoffFunction;
      running.outcome = storeOutcome(running, outcome, this.#clock.now(), custom);
      // Straight to the pump: if it has calls under way, this outcome joins the next batch.
      this.#pump.report(running);
      return;
    }
    this.#pump.pump();
  }

  #abort(running: RunningJob, reason: ConveyorError): void {
    running.controller ??= new AbortController();
    if (!running.controller.signal.aborted) running.controller.abort(reason);
  }

  #abortAndDrop(running: RunningJob, reason: ConveyorError): void {
    this.#abort(running, reason);
    this.#settle(running, { kind: "dropped" });
  }

  /** Sleeps until the earliest delayed job is due: no polling. */
  #armDueTimer(nextDueAt: number | null): void {
    if (this.#state === "running") this.#wakeups.dueAt(nextDueAt);
  }

  #retryLater(): void {
    if (this.#state === "running") this.#wakeups.retryAfter(this.#options.errorRetryMs);
  }

  #reportError(error: unknown): void {
    this.reportError(error, `worker ${this.id} on queue "${this.queue.name}"`);
  }

  /** Store calls whose answer is judged by how long it took: a fake clock may wait for them. */
  #tracked<T>(work: Promise<T>): Promise<T> {
    return this.#clock.track ? this.#clock.track(work) : work;
  }
}
