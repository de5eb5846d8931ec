import type { ClaimResult, QueueStore } from "./store-contract.ts";
import type { Clock } from "./clock.ts";
import type { Job, JobState } from "./job.ts";
import type { RunningJob } from "./job-context.ts";
import type { OutcomeListeners } from "./worker-outcomes.ts";
import type { SlotTaker } from "./worker-slots.ts";

/** Store calls a worker keeps in flight: one being answered while the next is queued. */
const PIPELINE_DEPTH = 2;

/** What the pump needs from its worker. */
export interface PumpHost {
  /** The worker's id, read when needed (a worker names itself on first use). */
  workerId(): string;
  readonly queueName: string;
  readonly store: QueueStore;
  readonly clock: Clock;
  readonly leaseMs: number;
  /** The jobs of this queue the worker runs now, by id. */
  readonly running: Map<string, RunningJob>;
  /** The worker takes new jobs from this queue now (running, and not held back by the queue-wide rate limit). */
  mayClaim(): boolean;
  /** Slots this pump may claim now, of the worker's concurrency (shared by all its queues). */
  freeSlots(pump: WorkerPump): number;
  /** Slots were freed or a queue may have jobs: every pump of the worker sends what it may, in the worker's order. */
  pumpAll(): void;
  /** Starts a claimed job whose lease is sure until `sureUntil`. */
  start(job: Job, sureUntil: number): void;
  /** Gives a claimed job back unrun. */
  giveBack(job: Job): void;
  /** Wake the worker at this time (a delayed job falls due). */
  dueAt(at: number | null): void;
  /** A store call failed: try again after the error delay. */
  retryLater(): void;
  tracked<T>(work: Promise<T>): Promise<T>;
  reportError(error: unknown): void;
  /** Every store call ended: the idle and quiet waiters may be answered. */
  settled(): void;
  /** The store took this attempt's failure as final (the job is now `failed` or `dead`). */
  failedForGood(running: RunningJob, state: "failed" | "dead"): void;
  /** The worker's outcome listeners (the health figures count attempts there). */
  readonly outcomes: OutcomeListeners;
}

/**
 * A worker's only path to the store for one queue's outcomes and claims. Each call sends every
 * outcome gathered so far and claims for the slots the worker gives this queue once they are
 * recorded (see SlotBudget for how a worker of several queues shares them). Up to PIPELINE_DEPTH
 * calls are in flight, so the store always has the next batch queued while the worker handles
 * the last reply; batches grow with load and cost stays flat per job.
 */
export class WorkerPump implements SlotTaker {
  readonly #host: PumpHost;
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

  constructor(host: PumpHost) {
    this.#host = host;
  }

  /**
   * Something may be claimable (new job, due timer, resumed queue): pump on the next microtask,
   * so many wake-ups in one turn cost one store call.
   */
  wake(): void {
    this.#claimable = true;
    this.#wakes++;
    if (this.#wakeQueued) return;
    this.#wakeQueued = true;
    queueMicrotask(() => {
      this.#wakeQueued = false;
      this.#host.pumpAll();
      this.#host.settled();
    });
  }

  /** Sends this attempt's outcome with the next batch; its slot is free for any queue at once. */
  report(running: RunningJob): void {
    this.#outcomes.push(running);
    this.#host.pumpAll();
  }

  /** Nothing asked of the store, and nothing more to claim for now. */
  get quiet(): boolean {
    return this.#inFlight === 0 && !this.#wakeQueued && !this.eligible;
  }

  /** Slots held: running jobs, less those whose outcome is queued or on its way, plus claims on their way. */
  get held(): number {
    return this.#host.running.size - this.#releasing - this.#outcomes.length + this.#reserved;
  }

  get reserved(): number {
    return this.#reserved;
  }

  /** The queue may have due jobs and the worker takes from it now. */
  get eligible(): boolean {
    return this.#claimable && this.#host.mayClaim();
  }

  /** Sends the outcomes gathered, with a claim for the slots the worker gives this queue. */
  pump(): void {
    while (this.#inFlight < PIPELINE_DEPTH) {
      const batch = this.#outcomes;
      const free = this.#host.freeSlots(this);
      if (batch.length === 0 && free <= 0) return;
      this.#outcomes = [];
      void this.#send(batch, Math.max(0, free));
    }
  }

  async #send(batch: RunningJob[], limit: number): Promise<void> {
    const host = this.#host;
    this.#inFlight++;
    this.#releasing += batch.length;
    this.#reserved += limit;
    const wakesAtSend = this.#wakes;
    const sentAt = host.clock.now();
    let claimed: ClaimResult | undefined;
    let finished: readonly (JobState | null)[] = [];
    try {
      const claim = limit > 0 ? { workerId: host.workerId(), limit, leaseMs: host.leaseMs } : undefined;
      if (batch.length > 0) {
        const outcomes = batch.map((running) => running.outcome!);
        ({ claimed, finished } = await host.tracked(host.store.finish(host.queueName, { outcomes, now: sentAt, claim })));
      } else if (claim) {
        claimed = await host.tracked(host.store.claim(host.queueName, { ...claim, now: sentAt }));
      }
    } catch (error) {
      // Outcomes that did not reach the store: their leases lapse and the jobs run again.
      // No claiming until the retry timer: a store that fails at once would otherwise be
      // called again and again on microtasks, starving the event loop.
      this.#claimable = false;
      host.reportError(error);
      host.retryLater();
    } finally {
      this.#inFlight--;
      this.#releasing -= batch.length;
      this.#reserved -= limit;
    }
    const counted = host.outcomes.size > 0;
    for (let i = 0; i < batch.length; i++) {
      const running = batch[i]!;
      host.running.delete(running.job.id);
      const state = finished[i];
      if (state === "dead" || state === "failed") host.failedForGood(running, state);
      if (counted && state) host.outcomes.emit(host.queueName, running, state, sentAt);
      // A retry is a delayed job this worker knows the time of: wake for it even when this
      // batch claimed nothing (at concurrency > 1 a short claim had stopped the claiming).
      const outcome = running.outcome;
      if (outcome?.kind === "failed" && outcome.retryAt !== null) host.dueAt(outcome.retryAt);
    }
    if (claimed) {
      // A short claim means the queue is empty for now, unless a wake-up came in meanwhile.
      if (claimed.jobs.length < limit && this.#wakes === wakesAtSend) this.#claimable = false;
      this.#startClaimed(claimed, sentAt);
    }
    host.pumpAll();
    host.settled();
  }

  #startClaimed({ jobs, nextDueAt }: ClaimResult, sentAt: number): void {
    const host = this.#host;
    host.dueAt(nextDueAt);
    // A claim answered late (a paused or overloaded store, a slow network) may hand out leases
    // that are about to run out, or already have: give those jobs back unrun rather than race
    // another worker's stall check for them.
    const late = host.clock.now() - sentAt > host.leaseMs / 2;
    for (const job of jobs) {
      if (late) host.giveBack(job);
      else host.start(job, sentAt + host.leaseMs);
    }
    if (jobs.length > 0) this.#claimedSinceDrain = true;
    else this.#noteDrained();
  }

  #noteDrained(): void {
    if (!this.#claimedSinceDrain) return;
    this.#claimedSinceDrain = false;
    const { store, queueName, clock } = this.#host;
    store.publish(queueName, { type: "drained", queue: queueName, at: clock.now() });
  }
}
