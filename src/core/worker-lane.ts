import type { QueueStore, Subscription } from "./store-contract.ts";
import type { Clock } from "./clock.ts";
import { ConveyorError } from "./errors.ts";
import type { ConveyorEventData, ConveyorEventType } from "./events.ts";
import type { Job } from "./job.ts";
import { RunningJob } from "./job-context.ts";
import type { Queue } from "./queue.ts";
import type { Redactor } from "./redaction.ts";
import { assertSafeForWorkers } from "./safety.ts";
import { admitOrHold } from "./worker-admission.ts";
import { type AttemptHost, type AttemptOutcome, type Registered, runAttempt, storeOutcome } from "./worker-attempt.ts";
import { WorkerContextHost } from "./worker-context-host.ts";
import { warnIfUnwatched } from "./worker-events.ts";
import type { ResolvedWorkerOptions, WorkerRateLimit } from "./worker-options.ts";
import type { OutcomeListeners } from "./worker-outcomes.ts";
import { WorkerPump } from "./worker-pump.ts";
import type { SlotBudget } from "./worker-slots.ts";
import { WorkerUpkeep } from "./worker-upkeep.ts";
import { WorkerWakeups } from "./worker-wakeups.ts";

/** The events a worker acts on: new work, and cancellation of its own jobs. */
const WAKE_EVENTS: readonly ConveyorEventType[] = ["enqueued", "resumed", "cancelled"];

/** What a lane needs from its worker. */
export interface LaneHost {
  /** The worker's id, read when needed (a worker names itself on first use); passed around unbound. */
  readonly workerId: () => string;
  readonly clock: Clock;
  readonly settings: ResolvedWorkerOptions;
  readonly limits: readonly WorkerRateLimit[];
  readonly budget: SlotBudget;
  /** The worker takes new jobs (started, not paused, not closing). */
  isRunning(): boolean;
  /** The handlers registered, by job name. */
  readonly handlers: ReadonlyMap<string, Registered>;
  /** Every lane's pump sends what it may, in the worker's order; passed around unbound. */
  readonly pumpAll: () => void;
  tracked<T>(work: Promise<T>): Promise<T>;
  reportError(error: unknown, queue: string): void;
  /** A handler ended or a store call came back: the worker's waiters may be answered. */
  settled(): void;
  readonly outcomes: OutcomeListeners;
}

/**
 * One queue of a worker: its claims and outcomes (the pump), leases and stall checks (the
 * upkeep), wake-up timers, the queue's events, and its jobs from claim to outcome. A worker of
 * one queue has one lane; a worker of several shares its slots among their lanes.
 */
export class WorkerLane {
  readonly queue: Queue;
  /** This queue's jobs the worker runs now, by id. */
  readonly running = new Map<string, RunningJob>();
  readonly pump: WorkerPump;
  /** Paused on this worker alone (`worker.pause(queue)`). */
  paused = false;
  readonly #host: LaneHost;
  readonly #handlers: ReadonlyMap<string, Registered>;
  readonly #limits: readonly WorkerRateLimit[];
  readonly #budget: SlotBudget;
  readonly #store: QueueStore;
  readonly #clock: Clock;
  readonly #wakeups: WorkerWakeups;
  readonly #upkeep: WorkerUpkeep;
  readonly #attemptHost: AttemptHost;
  readonly #contextHost: WorkerContextHost;
  readonly #redactor: Redactor;
  #subscription: Subscription | undefined;

  constructor(queue: Queue, host: LaneHost) {
    this.queue = queue;
    this.#host = host;
    this.#handlers = host.handlers;
    this.#limits = host.limits;
    this.#budget = host.budget;
    this.#store = queue.context.store;
    this.#redactor = queue.context.redactor;
    assertSafeForWorkers(this.#store, queue.name);
    this.#clock = host.clock;
    const { settings } = host;
    const tracked = <T>(work: Promise<T>) => host.tracked(work);
    const reportError = (error: unknown) => host.reportError(error, queue.name);
    this.#contextHost = new WorkerContextHost(this.#store, queue.name, this.#clock, host.workerId, this.#redactor);
    this.#wakeups = new WorkerWakeups(this.#clock, () => this.wake());
    this.#attemptHost = {
      workerId: host.workerId,
      clock: this.#clock,
      settle: (running, outcome) => this.#settle(running, outcome),
      abort: (running, reason) => this.#abort(running, reason),
    };
    this.pump = new WorkerPump({
      workerId: host.workerId,
      queueName: queue.name,
      store: this.#store,
      clock: this.#clock,
      leaseMs: settings.leaseMs,
      running: this.running,
      mayClaim: () => host.isRunning() && !this.paused && !this.#wakeups.holdingForLimit(),
      freeSlots: (pump) => this.#budget.free(pump),
      pumpAll: host.pumpAll,
      start: (job, sureUntil) => this.#start(job, sureUntil),
      giveBack: (job) => void this.#giveBackLate(job),
      dueAt: (at) => this.#armDueTimer(at),
      retryLater: () => this.#retryLater(),
      tracked,
      reportError,
      settled: () => host.settled(),
      failedForGood: (running, state) => warnIfUnwatched(queue, running, state),
      outcomes: host.outcomes,
    });
    this.#upkeep = new WorkerUpkeep({
      workerId: host.workerId,
      queueName: queue.name,
      store: this.#store,
      clock: this.#clock,
      leaseMs: settings.leaseMs,
      stallCheckMs: settings.stallCheckMs,
      maxStalls: settings.maxStalls,
      running: () => this.running.values(),
      drop: (running, reason) => this.#abortAndDrop(running, reason),
      tracked,
      reportError,
      wake: () => this.wake(),
    });
  }

  start(): void {
    this.#subscription = this.#store.subscribe(this.queue.name, (event) => this.#onEvent(event), WAKE_EVENTS);
    // Jobs added before the subscription was live sent their wake-up to nobody: look again.
    this.#subscription.ready.then(() => this.wake(), (error) => this.#host.reportError(error, this.queue.name));
    this.#upkeep.start();
    this.wake();
  }

  /** Resolves once the lane hears its queue's events. */
  ready(): Promise<void> {
    return this.#subscription?.ready ?? Promise.resolve();
  }

  wake(): void {
    this.pump.wake();
  }

  /** Closing: no more wake-ups or stall checks; leases are still renewed for the jobs finishing. */
  stopTaking(): void {
    this.#wakeups.clear();
    this.#upkeep.stopStallChecks();
  }

  stop(): void {
    this.#upkeep.stop();
    this.#subscription?.close();
  }

  /** Aborts handlers still running at the close deadline and returns their jobs to waiting. */
  async giveBackRunning(): Promise<void> {
    const unsettled = [...this.running.values()].filter((running) => !running.settled);
    await Promise.all(unsettled.map((running) => {
      // Settled first, so a handler that rejects on abort does not spend an attempt.
      this.#settle(running, { kind: "dropped" });
      this.#abort(running, new ConveyorError("WORKER_CLOSED", `Worker ${this.#host.workerId()} closed while job ${running.job.id} was running`));
      return this.#giveBack(running.job.id, running.token);
    }));
  }

  /** The worker takes jobs from this queue: it runs, and this queue is not paused on it. */
  #taking(): boolean {
    return this.#host.isRunning() && !this.paused;
  }

  /**
   * Gives a held job back to the queue unrun (now, or delayed until `runAt`). When the store
   * fails, the lease lapses and a stall check requeues the job: late, never lost.
   */
  async #giveBack(id: string, token: string, runAt?: number): Promise<boolean> {
    try {
      return await this.#store.release(this.queue.name, { id, token, now: this.#clock.now(), runAt });
    } catch (error) {
      this.#host.reportError(error, this.queue.name);
      return false;
    }
  }

  #onEvent(event: ConveyorEventData): void {
    switch (event.type) {
      case "enqueued":
      case "resumed":
        this.wake();
        return;
      case "cancelled": {
        const running = this.running.get(event.jobId);
        if (running) this.#abortAndDrop(running, new ConveyorError("JOB_CANCELLED", `Job ${event.jobId} was cancelled`));
        return;
      }
    }
  }

  #start(job: Job, leaseSureUntil: number): void {
    const running = new RunningJob(job, this.#contextHost);
    running.leaseSureUntil = leaseSureUntil;
    this.running.set(job.id, running);
    this.#budget.started(this.pump);
    if (this.#limits.length > 0) void this.#admit(running);
    else this.#run(running);
  }

  async #giveBackLate(job: Job): Promise<void> {
    await this.#giveBack(job.id, job.lease!.token);
    this.wake();
  }

  /**
   * A job starts only within every rate limit; over one, it goes back to the queue delayed until
   * it may run, its attempt unspent. Over the queue-wide limit, this queue is not claimed from
   * until then (the next jobs would be refused too); the worker's other queues go on.
   */
  async #admit(running: RunningJob): Promise<void> {
    const { job } = running;
    const host = this.#host;
    const reportError = (error: unknown) => host.reportError(error, this.queue.name);
    const { waitMs, queueWide } = await admitOrHold(job, this.#limits, `queue:${this.queue.name}`, host.settings.errorRetryMs, reportError);
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
      this.running.delete(running.job.id);
      this.#host.pumpAll();
      this.#host.settled();
    } else {
      const custom = this.#handlers.get(running.job.name)?.definition.backoffFunction;
      running.outcome = storeOutcome(running, outcome, this.#clock.now(), custom, this.#redactor);
      // Straight to the pump: if it has calls under way, this outcome joins the next batch.
      this.pump.report(running);
    }
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
    if (this.#taking()) this.#wakeups.dueAt(nextDueAt);
  }

  #retryLater(): void {
    if (this.#taking()) this.#wakeups.retryAfter(this.#host.settings.errorRetryMs);
  }
}
