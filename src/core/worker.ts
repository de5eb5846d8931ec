import * as v from "valibot";
import type { ClaimResult, Outcome as StoreOutcome, QueueStore, Subscription } from "../store/contract.ts";
import { backoffDelay } from "./backoff.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import type { JobDefinition, PayloadOutput } from "./define-job.ts";
import { ConveyorError, toErrorInfo, UnrecoverableError } from "./errors.ts";
import type { ConveyorEventData, ConveyorEventType } from "./events.ts";
import type { Job } from "./job.ts";
import { type ContextHost, type JobContext, RunningJob } from "./job-context.ts";
import type { Queue } from "./queue.ts";
import { assertSafeForWorkers } from "./safety.ts";
import { parseArgument } from "./validation.ts";
import { WORKER_DEFAULTS, type WorkerOptions, WorkerOptionsSchema, type WorkerRateLimit } from "./worker-options.ts";
import { describeIssues } from "./validation.ts";

export type JobHandler<D extends JobDefinition> = (
  payload: PayloadOutput<D>,
  context: JobContext,
) => unknown;

interface Registered {
  readonly definition: JobDefinition;
  readonly handler: JobHandler<JobDefinition>;
}

type Outcome =
  | { readonly kind: "completed"; readonly value: unknown }
  | { readonly kind: "failed"; readonly error: unknown; readonly unrecoverable: boolean }
  /** The store has already moved the job on (cancelled, lease lost, released). */
  | { readonly kind: "dropped" };

/** An error the worker survived (a store call failed); the worker goes on. */
export class WorkerErrorEvent extends Event {
  readonly error: unknown;
  constructor(error: unknown) {
    super("error");
    this.error = error;
  }
}

type WorkerState = "idle" | "running" | "paused" | "closing" | "closed";

/** Store calls a worker keeps in flight: one being answered while the next is queued. */
const PIPELINE_DEPTH = 2;

/** The events a worker acts on: new work, and cancellation of its own jobs. */
const WAKE_EVENTS: readonly ConveyorEventType[] = ["enqueued", "resumed", "cancelled"];

/**
 * Takes jobs from one queue and runs their handlers, at most `concurrency` at once, highest
 * priority first. Leases are renewed while handlers run; timeouts, cancellation and shutdown
 * reach handlers through their `AbortSignal`. Nothing a handler or the store throws stops it.
 */
export class Worker extends EventTarget implements ContextHost {
  readonly id: string;
  readonly queue: Queue;
  readonly #store: QueueStore;
  readonly #clock: Clock;
  readonly #options: Required<Omit<WorkerOptions, "id" | "rateLimits">>;
  readonly #handlers = new Map<string, Registered>();
  readonly #running = new Map<string, RunningJob>();
  #state: WorkerState = "idle";
  /** Outcomes waiting to be sent to the store in the next batch. */
  #outcomes: RunningJob[] = [];
  /** Store calls of the pump under way. */
  #inFlight = 0;
  /** Outcomes sent and not yet confirmed; their jobs still hold slots until then. */
  #releasing = 0;
  /** Slots promised to claims under way. */
  #reserved = 0;
  /** The queue may have due jobs; cleared when a claim comes back short. */
  #claimable = true;
  /** Counts wake-ups, so a short claim sent before one does not clear `#claimable`. */
  #wakes = 0;
  #wakeQueued = false;
  #claimedSinceDrain = false;
  #dueTimer: { handle: TimerHandle; at: number } | undefined;
  #leaseTimer: TimerHandle | undefined;
  #stallTimer: TimerHandle | undefined;
  /** When the first stall check started: later ones fall on its grid. */
  #stallGridStart: number | undefined;
  #retryTimer: TimerHandle | undefined;
  #subscription: Subscription | undefined;
  #closing: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];
  #quietWaiters: (() => void)[] = [];
  #errorListeners = 0;
  #markStarted!: () => void;
  readonly #limits: readonly WorkerRateLimit[];
  /** The queue-wide rate limit is used up until then. */
  #limitedUntil = 0;
  readonly #started = new Promise<void>((resolve) => this.#markStarted = resolve);

  constructor(queue: Queue, options: WorkerOptions = {}) {
    super();
    const parsed = parseArgument(WorkerOptionsSchema, options, "worker options");
    this.queue = queue;
    this.#store = queue.context.store;
    assertSafeForWorkers(this.#store, queue.name);
    this.#clock = queue.context.clock;
    this.id = parsed.id ?? crypto.randomUUID();
    const { rateLimits, ...rest } = parsed;
    this.#limits = rateLimits ?? [];
    this.#options = { ...WORKER_DEFAULTS, ...withoutUndefined(rest) } as Required<Omit<WorkerOptions, "id" | "rateLimits">>;
    if (this.#options.autostart) queueMicrotask(() => this.start());
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
    this.#armLeaseTimer();
    void this.#checkStalled();
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
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
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
    while (!this.#isQuiet()) await new Promise<void>((resolve) => this.#quietWaiters.push(resolve));
  }

  /**
   * Stops taking jobs and waits for running ones up to `timeoutMs`; jobs still running then
   * have their signal aborted and go back to the queue for another worker.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? this.#options.closeTimeoutMs);
    return this.#closing;
  }

  override addEventListener(
    type: "error",
    listener: ((event: WorkerErrorEvent) => void) | EventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions) {
    if (type === "error" && listener) this.#errorListeners++;
    super.addEventListener(type, listener, options);
  }

  // ContextHost: what a handler's context calls.

  async setProgress(running: RunningJob, value: unknown): Promise<void> {
    if (running.settled) return;
    await this.#store.setProgress(this.queue.name, running.job.id, running.token, value, this.#clock.now());
  }

  async appendLog(running: RunningJob, line: string): Promise<void> {
    if (running.settled) return;
    await this.#store.appendLog(this.queue.name, running.job.id, running.token, line);
  }

  async #close(timeoutMs: number): Promise<void> {
    if (this.#state === "idle") {
      this.#state = "closed";
      return;
    }
    this.#state = "closing";
    this.#clearTimer(this.#dueTimer?.handle);
    this.#dueTimer = undefined;
    this.#clearTimer(this.#stallTimer);
    this.#clearTimer(this.#retryTimer);
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
    this.#clearTimer(this.#leaseTimer);
    this.#subscription?.close();
    this.#state = "closed";
    this.#notifyQuiet();
  }

  /** Aborts handlers still running at the close deadline and returns their jobs to waiting. */
  async #giveBackRunning(): Promise<void> {
    const now = this.#clock.now();
    const unsettled = [...this.#running.values()].filter((running) => !running.settled);
    await Promise.all(unsettled.map(async (running) => {
      // Settled first, so a handler that rejects on abort does not spend an attempt.
      this.#settle(running, { kind: "dropped" });
      this.#abort(running, new ConveyorError("WORKER_CLOSED", `Worker ${this.id} closed while job ${running.job.id} was running`));
      try {
        await this.#store.release(this.queue.name, running.job.id, running.token, now);
      } catch (error) {
        // The lease will expire and the stall check will requeue it: repeated, not lost.
        this.#reportError(error);
      }
    }));
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

  /**
   * Something may be claimable (new job, due timer, resumed queue): pump on the next microtask,
   * so many wake-ups in one turn cost one store call.
   */
  #wake(): void {
    this.#claimable = true;
    this.#wakes++;
    if (this.#wakeQueued) return;
    this.#wakeQueued = true;
    queueMicrotask(() => {
      this.#wakeQueued = false;
      this.#pump();
      this.#notifyQuiet();
    });
  }

  /**
   * The worker's only path to the store for outcomes and claims. Each call sends every outcome
   * gathered so far and claims for the slots free once they are recorded. Up to
   * PIPELINE_DEPTH calls are in flight, so the store always has the next batch queued while
   * the worker handles the last reply; batches grow with load and cost stays flat per job.
   */
  #pump(): void {
    while (this.#inFlight < PIPELINE_DEPTH) {
      const batch = this.#outcomes;
      // Slots held: running jobs, less those whose outcome is on its way, plus claims on their way.
      const held = this.#running.size - this.#releasing - batch.length + this.#reserved;
      const free = this.#state === "running" && this.#claimable && !this.#holdingForLimit() ? this.#options.concurrency - held : 0;
      if (batch.length === 0 && free <= 0) return;
      this.#outcomes = [];
      void this.#send(batch, Math.max(0, free));
    }
  }

  async #send(batch: RunningJob[], limit: number): Promise<void> {
    this.#inFlight++;
    this.#releasing += batch.length;
    this.#reserved += limit;
    const wakesAtSend = this.#wakes;
    let claimed: ClaimResult | undefined;
    try {
      const claim = limit > 0 ? { workerId: this.id, limit, leaseMs: this.#options.leaseMs } : undefined;
      if (batch.length > 0) {
        const result = await this.#store.finish(this.queue.name, {
          outcomes: batch.map((running) => running.outcome!),
          now: this.#clock.now(),
          claim,
        });
        claimed = result.claimed;
      } else if (claim) {
        claimed = await this.#store.claim(this.queue.name, {
          workerId: claim.workerId,
          limit: claim.limit,
          leaseMs: claim.leaseMs,
          now: this.#clock.now(),
        });
      }
    } catch (error) {
      // Outcomes that did not reach the store: their leases lapse and the jobs run again.
      this.#reportError(error);
      this.#retryLater();
    } finally {
      this.#inFlight--;
      this.#releasing -= batch.length;
      this.#reserved -= limit;
    }
    for (const running of batch) this.#running.delete(running.job.id);
    if (claimed) {
      // A short claim means the queue is empty for now, unless a wake-up came in meanwhile.
      if (claimed.jobs.length < limit && this.#wakes === wakesAtSend) this.#claimable = false;
      this.#startClaimed(claimed);
    }
    if (this.#running.size === 0) this.#notifyIdle();
    this.#pump();
    this.#notifyQuiet();
  }

  #startClaimed({ jobs, nextDueAt }: ClaimResult): void {
    this.#armDueTimer(nextDueAt);
    for (const job of jobs) this.#start(job);
    if (jobs.length > 0) this.#claimedSinceDrain = true;
    else this.#noteDrained();
  }

  #start(job: Job): void {
    const running = new RunningJob(job, this);
    this.#running.set(job.id, running);
    if (this.#limits.length > 0) void this.#admit(running);
    else this.#run(running);
  }

  /**
   * A job starts only within every rate limit; over one, it goes back to the queue delayed until
   * it may run, its attempt unspent. Over the queue-wide limit, the worker also stops claiming
   * until then (the next jobs would be refused too).
   */
  async #admit(running: RunningJob): Promise<void> {
    const { job } = running;
    let waitMs = 0;
    let queueWide = false;
    try {
      for (const limit of this.#limits) {
        const key = limit.key ? limit.key(job) : `queue:${this.queue.name}`;
        if (key === null) continue;
        const decision = await limit.limiter.consume(key);
        if (!decision.allowed) {
          waitMs = decision.retryAfterMs;
          queueWide = !limit.key;
          break;
        }
      }
    } catch (error) {
      // The limiter's store failed: hold the job back briefly rather than run it unlimited.
      this.#reportError(error);
      waitMs = this.#options.errorRetryMs;
    }
    if (running.settled) return; // cancelled or closed meanwhile
    if (waitMs === 0) return this.#run(running);
    const now = this.#clock.now();
    const runAt = now + waitMs;
    if (queueWide) this.#limitedUntil = Math.max(this.#limitedUntil, runAt);
    this.#settle(running, { kind: "dropped" });
    try {
      if (await this.#store.release(this.queue.name, job.id, running.token, now, runAt)) this.#armDueTimer(runAt);
    } catch (error) {
      // Its lease runs out and the stall check requeues it: late, not lost.
      this.#reportError(error);
    }
  }

  #run(running: RunningJob): void {
    const { job } = running;
    const registered = this.#handlers.get(job.name);
    if (!registered) {
      const error = new ConveyorError("UNKNOWN_JOB", `Worker ${this.id} has no handler for job "${job.name}" in queue "${job.queue}"`);
      this.#settle(running, { kind: "failed", error, unrecoverable: false });
      return;
    }
    const parsed = v.safeParse(registered.definition.schema, job.payload);
    if (!parsed.success) {
      const issues = describeIssues(parsed.issues);
      const error = new ConveyorError(
        "VALIDATION_FAILED",
        `Payload of job ${job.id} ("${job.name}") no longer matches its schema: ${issues.map((i) => `${i.path || "(root)"} ${i.message}`).join("; ")}`,
        { issues },
      );
      this.#settle(running, { kind: "failed", error, unrecoverable: true });
      return;
    }
    if (job.timeoutMs !== null) {
      const timeoutMs = job.timeoutMs;
      running.timer = this.#clock.setTimeout(() => {
        const error = new ConveyorError("JOB_TIMEOUT", `Job ${job.id} ("${job.name}") timed out after ${timeoutMs} ms`);
        this.#abort(running, error);
        this.#settle(running, { kind: "failed", error, unrecoverable: false });
      }, timeoutMs);
    }
    let result: unknown;
    try {
      result = registered.handler(parsed.output, running);
    } catch (error) {
      this.#settle(running, { kind: "failed", error, unrecoverable: error instanceof UnrecoverableError });
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (value) => this.#settle(running, { kind: "completed", value }),
        (error) => this.#settle(running, { kind: "failed", error, unrecoverable: error instanceof UnrecoverableError }),
      );
    } else {
      this.#settle(running, { kind: "completed", value: result });
    }
  }

  /** Takes the first outcome of a running job; later ones (a handler finishing after its timeout) are ignored. */
  #settle(running: RunningJob, outcome: Outcome): void {
    if (running.settled) return;
    running.settled = true;
    this.#clearTimer(running.timer);
    if (outcome.kind === "dropped") {
      this.#running.delete(running.job.id);
      if (this.#running.size === 0) this.#notifyIdle();
    } else {
      running.outcome = this.#toStoreOutcome(running, outcome);
      this.#outcomes.push(running);
    }
    // Straight to the pump: if it has calls under way, this outcome joins the next batch.
    this.#pump();
  }

  #toStoreOutcome({ job, token }: RunningJob, outcome: Exclude<Outcome, { kind: "dropped" }>): StoreOutcome {
    if (outcome.kind === "completed") return { id: job.id, token, kind: "completed", result: outcome.value };
    const attempt = job.attemptsMade + 1;
    const final = outcome.unrecoverable || attempt >= job.maxAttempts;
    const now = this.#clock.now();
    const custom = this.#handlers.get(job.name)?.definition.backoffFunction;
    return {
      id: job.id,
      token,
      kind: "failed",
      error: toErrorInfo(outcome.error),
      retryAt: final ? null : now + backoffDelay(job.backoff, attempt, outcome.error, custom),
      reason: outcome.unrecoverable ? "unrecoverable" : "attempts-exhausted",
    };
  }

  #abort(running: RunningJob, reason: ConveyorError): void {
    running.controller ??= new AbortController();
    if (!running.controller.signal.aborted) running.controller.abort(reason);
  }

  #abortAndDrop(running: RunningJob, reason: ConveyorError): void {
    this.#abort(running, reason);
    this.#settle(running, { kind: "dropped" });
  }

  /** True while the queue-wide rate limit is used up; the due timer wakes the worker after. */
  #holdingForLimit(): boolean {
    if (this.#limitedUntil === 0) return false; // the pump's fast path: no clock read
    if (this.#limitedUntil <= this.#clock.now()) {
      this.#limitedUntil = 0;
      return false;
    }
    this.#armDueTimer(this.#limitedUntil);
    return true;
  }

  #noteDrained(): void {
    if (!this.#claimedSinceDrain) return;
    this.#claimedSinceDrain = false;
    this.#store.publish(this.queue.name, { type: "drained", queue: this.queue.name, at: this.#clock.now() });
  }

  /** Sleeps until the earliest delayed job is due: no polling. */
  #armDueTimer(nextDueAt: number | null): void {
    if (nextDueAt === null || this.#state !== "running") return;
    if (this.#dueTimer && this.#dueTimer.at <= nextDueAt) return;
    this.#clearTimer(this.#dueTimer?.handle);
    const handle = this.#clock.setTimeout(() => {
      this.#dueTimer = undefined;
      this.#wake();
    }, nextDueAt - this.#clock.now());
    this.#dueTimer = { handle, at: nextDueAt };
  }

  #armLeaseTimer(): void {
    this.#leaseTimer = this.#clock.setTimeout(() => void this.#renewLeases(), Math.max(1, Math.floor(this.#options.leaseMs / 3)));
  }

  async #renewLeases(): Promise<void> {
    if (this.#running.size > 0) {
      const leases = [...this.#running.values()].map((r) => ({ id: r.job.id, token: r.token }));
      try {
        const lost = await this.#store.extendLeases(this.queue.name, leases, this.#options.leaseMs, this.#clock.now());
        for (const id of lost) {
          const running = this.#running.get(id);
          if (running) this.#abortAndDrop(running, new ConveyorError("LEASE_LOST", `Worker ${this.id} lost its lease on job ${id}`));
        }
      } catch (error) {
        this.#reportError(error);
      }
    }
    if (this.#state === "running" || this.#state === "paused" || this.#state === "closing") this.#armLeaseTimer();
  }

  async #checkStalled(): Promise<void> {
    // Checks keep to a grid of stallCheckMs from the first one, however long the store takes to
    // answer: a late check does not push the later ones back.
    const startedAt = this.#clock.now();
    this.#stallGridStart ??= startedAt;
    try {
      await this.#store.recoverStalled(this.queue.name, this.#clock.now(), this.#options.maxStalls);
      // Also a safety net: a wake-up lost with a dropped connection costs at most one interval.
      this.#wake();
    } catch (error) {
      this.#reportError(error);
    }
    if (this.#state === "running" || this.#state === "paused") {
      const every = this.#options.stallCheckMs;
      const nextAt = this.#stallGridStart + (Math.floor((startedAt - this.#stallGridStart) / every) + 1) * every;
      const wait = Math.max(0, nextAt - this.#clock.now());
      this.#stallTimer = this.#clock.setTimeout(() => void this.#checkStalled(), wait);
    }
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined || this.#state !== "running") return;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#wake();
    }, this.#options.errorRetryMs);
  }

  /** Nothing running, nothing asked of the store, and nothing more to claim for now. */
  #isQuiet(): boolean {
    const claiming = this.#state === "running" && this.#claimable && !this.#holdingForLimit();
    return this.#running.size === 0 && this.#inFlight === 0 && !this.#wakeQueued && !claiming;
  }

  #notifyQuiet(): void {
    if (this.#quietWaiters.length === 0 || !this.#isQuiet()) return;
    const waiters = this.#quietWaiters;
    this.#quietWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #reportError(error: unknown): void {
    if (this.#errorListeners > 0) this.dispatchEvent(new WorkerErrorEvent(error));
    else console.error(`conveyor: worker ${this.id} on queue "${this.queue.name}":`, error);
  }

  #clearTimer(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#clock.clearTimeout(handle);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
