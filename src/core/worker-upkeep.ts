import type { QueueStore } from "./store-contract.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { ConveyorError } from "./errors.ts";
import type { RunningJob } from "./job-context.ts";

/** What the upkeep needs from its worker. */
export interface UpkeepHost {
  /** The worker's id, read when needed (a worker names itself on first use). */
  workerId(): string;
  readonly queueName: string;
  readonly store: QueueStore;
  readonly clock: Clock;
  readonly leaseMs: number;
  readonly stallCheckMs: number;
  readonly maxStalls: number;
  /** The jobs the worker runs now. */
  running(): Iterable<RunningJob>;
  /** Stops a job the worker may no longer hold: aborts its handler and forgets it. */
  drop(running: RunningJob, reason: ConveyorError): void;
  /** Store calls whose answer is judged by time (a fake clock may wait for them). */
  tracked<T>(work: Promise<T>): Promise<T>;
  reportError(error: unknown): void;
  /** Something may be claimable again. */
  wake(): void;
}

/**
 * A worker's timed chores: renewing the leases of the jobs it runs, dropping a job whose lease
 * it can no longer be sure of, and the periodic stall check that takes back other workers'
 * lapsed jobs.
 */
export class WorkerUpkeep {
  readonly #host: UpkeepHost;
  #leaseTimer: TimerHandle | undefined;
  #stallTimer: TimerHandle | undefined;
  /** When the first stall check started: later ones fall on its grid. */
  #stallGridStart: number | undefined;
  /** A lease renewal is on its way to the store. */
  #renewing = false;
  #leasesOn = false;
  #stallsOn = false;

  constructor(host: UpkeepHost) {
    this.#host = host;
  }

  start(): void {
    this.#leasesOn = true;
    this.#stallsOn = true;
    this.#armLeaseTimer();
    void this.#checkStalled();
  }

  /** No more stall checks (closing); leases are still renewed for the jobs that finish. */
  stopStallChecks(): void {
    this.#stallsOn = false;
    if (this.#stallTimer !== undefined) this.#host.clock.clearTimeout(this.#stallTimer);
  }

  stop(): void {
    this.stopStallChecks();
    this.#leasesOn = false;
    if (this.#leaseTimer !== undefined) this.#host.clock.clearTimeout(this.#leaseTimer);
  }

  /**
   * Every third of a lease: drops jobs whose lease is no longer sure (renewals unanswered for a
   * whole lease), then sends a renewal unless one is still on its way. Ticks whatever the store
   * does, so a store that stops answering cannot keep a job running past its lease.
   */
  #armLeaseTimer(): void {
    this.#leaseTimer = this.#host.clock.setTimeout(() => {
      this.#dropUnsureLeases();
      if (!this.#renewing) void this.#renewLeases();
      if (this.#leasesOn) this.#armLeaseTimer();
    }, Math.max(1, Math.floor(this.#host.leaseMs / 3)));
  }

  #dropUnsureLeases(): void {
    const now = this.#host.clock.now();
    for (const running of this.#host.running()) {
      if (running.settled || running.leaseSureUntil > now) continue;
      this.#host.drop(running, new ConveyorError("LEASE_LOST", `Worker ${this.#host.workerId()} could not renew its lease on job ${running.job.id} in time`));
    }
  }

  async #renewLeases(): Promise<void> {
    const held = [...this.#host.running()].filter((running) => !running.settled);
    if (held.length === 0) return;
    const { store, clock, leaseMs } = this.#host;
    this.#renewing = true;
    const sentAt = clock.now();
    try {
      const leases = held.map((r) => ({ id: r.job.id, token: r.token }));
      const lost = new Set(await this.#host.tracked(store.extendLeases(this.#host.queueName, { leases, leaseMs, now: sentAt })));
      for (const running of held) {
        if (lost.has(running.job.id)) {
          this.#host.drop(running, new ConveyorError("LEASE_LOST", `Worker ${this.#host.workerId()} lost its lease on job ${running.job.id}`));
        } else {
          running.leaseSureUntil = Math.max(running.leaseSureUntil, sentAt + leaseMs);
        }
      }
    } catch (error) {
      this.#host.reportError(error);
    } finally {
      this.#renewing = false;
    }
  }

  async #checkStalled(): Promise<void> {
    // Checks keep to a grid of stallCheckMs from the first one, however long the store takes to
    // answer: a late check does not push the later ones back.
    const { clock } = this.#host;
    const startedAt = clock.now();
    this.#stallGridStart ??= startedAt;
    try {
      await this.#host.store.recoverStalled(this.#host.queueName, { now: clock.now(), maxStalls: this.#host.maxStalls });
      // Also a safety net: a wake-up lost with a dropped connection costs at most one interval.
      this.#host.wake();
    } catch (error) {
      this.#host.reportError(error);
    }
    if (!this.#stallsOn) return;
    const every = this.#host.stallCheckMs;
    const nextAt = this.#stallGridStart + (Math.floor((startedAt - this.#stallGridStart) / every) + 1) * every;
    this.#stallTimer = clock.setTimeout(() => void this.#checkStalled(), Math.max(0, nextAt - clock.now()));
  }
}
