import * as v from "valibot";
import { MAX_TIMER_DELAY_MS, type TimerHandle } from "../core/clock.ts";
import type { JobDefinition } from "../core/define-job.ts";
import { ConveyorError, isConveyorError } from "../core/errors.ts";
import type { Job, JobState } from "../core/job.ts";
import { parseArgument } from "../core/validation.ts";
import { reportError } from "../util/report-error.ts";
import { announce, fireDue, type Prepared } from "./firing.ts";
import { runOf, type SchedulerHost } from "./runs.ts";
import { firstFloor, lastEligibleTick } from "./plan.ts";
import type { ScheduleOptions, ScheduleRecord } from "./schedule-options.ts";
import { buildScheduleRecord, sameDefinition, type ScheduleTarget } from "./schedule-record.ts";
import { readState, SCHEDULES, STATES, updateState } from "./schedule-state.ts";
import { timingOf, type When } from "./timing.ts";

export type { SchedulerHost } from "./runs.ts";
export type { JobTarget, ScheduleTarget, WorkflowTarget } from "./schedule-record.ts";

export interface SchedulerOptions {
  /** A tick up to this late still fires as on time (a busy event loop, clocks apart); older ones are "missed". @default 2_000 */
  graceMs?: number;
  /**
   * How long a tick may stay claimed by a node without its job enqueued before any node enqueues
   * it (under the same job id): the claimant is taken to have died between the two. Keep it above
   * the longest an enqueue takes plus how far clocks are apart, or a slow node's run may repeat.
   * @default 5_000
   */
  claimTimeoutMs?: number;
  /** How often stored schedules are read again, to pick up ones changed by other nodes. @default 5_000 */
  refreshMs?: number;
  /** Start firing at once (otherwise call `start()`, or drive it with `tick()`). @default true */
  autostart?: boolean;
}

export interface ScheduleInfo extends ScheduleRecord {
  readonly nextRunAt: number | null;
  readonly lastRunAt: number | null;
  readonly lastJobId: string | null;
  /** State of the latest run's job, "skipped" when the latest tick was skipped, null before any. */
  readonly lastOutcome: JobState | "skipped" | null;
  readonly runs: number;
  readonly skipped: number;
}

interface Armed extends Prepared {
  timer: TimerHandle | undefined;
}

/**
 * Fires schedules into queues. Any number of schedulers may share one store, with no leader to
 * lose: each tick is claimed by one compare-and-set of the schedule's shared state before its
 * job is enqueued, and stays marked pending until it is; a mark left by a node that died is
 * taken over by another after `claimTimeoutMs` (see `fireDue`). The job's id names the schedule
 * and the tick. Ticks come from timers on the conveyor's clock, or from `tick(now)` where an
 * edge cron trigger drives it.
 */
export class Scheduler {
  readonly #host: SchedulerHost;
  readonly #graceMs: number;
  readonly #claimTimeoutMs: number;
  readonly #refreshMs: number;
  readonly #armed = new Map<string, Armed>();
  /** One evaluation at a time per schedule, in order. */
  readonly #chains = new Map<string, Promise<unknown>>();
  #refreshTimer: TimerHandle | undefined;
  #running = false;
  #closed = false;

  constructor(host: SchedulerHost, options: SchedulerOptions = {}) {
    const parsed = parseArgument(
      v.strictObject({
        graceMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
        claimTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_TIMER_DELAY_MS))),
        refreshMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10), v.maxValue(MAX_TIMER_DELAY_MS))),
        autostart: v.optional(v.boolean()),
      }),
      options,
      "scheduler options",
    );
    this.#host = host;
    this.#graceMs = parsed.graceMs ?? 2_000;
    this.#claimTimeoutMs = parsed.claimTimeoutMs ?? 5_000;
    this.#refreshMs = parsed.refreshMs ?? 5_000;
    if (parsed.autostart ?? true) queueMicrotask(() => void this.start());
  }

  /**
   * Defines (or redefines) a schedule and stores it. Every node may call this with the same
   * definition at startup; the stored schedule keeps its history.
   */
  async schedule<D extends JobDefinition>(id: string, when: When, target: ScheduleTarget<D>, options: ScheduleOptions = {}): Promise<ScheduleInfo> {
    this.#open();
    const record = buildScheduleRecord(this.#host, id, when, target, options);
    const existing = await this.#host.store.getRecord<ScheduleRecord>(SCHEDULES, record.id);
    const same = existing !== null && sameDefinition(existing, record);
    const stored = same ? existing : { ...record, createdAt: existing?.createdAt ?? record.createdAt };
    if (!same) await this.#host.store.putRecord(SCHEDULES, record.id, stored);
    if (this.#running) await this.#arm(stored);
    return await this.#info(stored);
  }

  async get(id: string): Promise<ScheduleInfo | null> {
    const record = await this.#host.store.getRecord<ScheduleRecord>(SCHEDULES, id);
    return record ? await this.#info(record) : null;
  }

  /** Every stored schedule, with its next run, last run and last outcome. */
  async list(): Promise<ScheduleInfo[]> {
    const records = await this.#host.store.listRecords<ScheduleRecord>(SCHEDULES);
    return await Promise.all(records.map(({ value }) => this.#info(value)));
  }

  async pause(id: string): Promise<ScheduleInfo> {
    return await this.#update(id, { paused: true });
  }

  /** Resumes firing from now on: ticks that passed while paused are not made up. */
  async resume(id: string): Promise<ScheduleInfo> {
    const now = this.#host.clock.now();
    await updateState(this.#host.store, id, (state) => (state.lastTick ?? -Infinity) >= now ? state : { ...state, lastTick: now });
    return await this.#update(id, { paused: false });
  }

  async remove(id: string): Promise<boolean> {
    const removed = await this.#host.store.deleteRecord(SCHEDULES, id);
    await this.#host.store.deleteRecord(STATES, id);
    this.#disarm(id);
    return removed;
  }

  /** Starts a run now, outside the schedule's ticks (overlap rules do not apply); returns its job (a workflow's first or root job). */
  async trigger(id: string): Promise<Job> {
    const record = await this.#require(id);
    const now = this.#host.clock.now();
    const { job } = await runOf(this.#host, record)(undefined, false);
    announce(this.#host, record, job, now);
    await updateState(this.#host.store, id, (state) => ({ ...state, lastRunAt: now, lastJobId: job.id, runs: state.runs + 1 }));
    return job;
  }

  /**
   * Fires every schedule's ticks due by `now` that no node has fired yet, and returns the jobs
   * this call enqueued. For edge cron triggers (Cloudflare `scheduled`, Deno.cron): a tick up to
   * `graceMs` old (default one minute, an edge trigger's granularity) still counts as on time;
   * older ones follow the schedule's catch-up rule. Calling it again for the same time enqueues
   * nothing new.
   */
  async tick(now: number = this.#host.clock.now(), options: { graceMs?: number } = {}): Promise<Job[]> {
    this.#open();
    const graceMs = options.graceMs ?? 60_000;
    const records = await this.#host.store.listRecords<ScheduleRecord>(SCHEDULES);
    const rules = { graceMs, claimTimeoutMs: this.#claimTimeoutMs };
    const fired = await Promise.all(records.map(({ value }) => this.#serially(value.id, () => fireDue(this.#host, this.#prepare(value), now, rules))));
    return fired.flatMap(({ created }) => created);
  }

  /**
   * Starts firing on timers. Resolves once every stored schedule has been looked at (missed ticks
   * made up by its rule); from then on each follows its ticks.
   */
  async start(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    await this.#refresh();
  }

  /** Stops every timer. Schedules stay stored; other nodes go on firing them. */
  close(): void {
    this.#closed = true;
    this.#running = false;
    if (this.#refreshTimer !== undefined) this.#host.clock.clearTimeout(this.#refreshTimer);
    for (const id of [...this.#armed.keys()]) this.#disarm(id);
  }

  #prepare(record: ScheduleRecord): Armed {
    const current = this.#armed.get(record.id);
    if (current && current.record.updatedAt === record.updatedAt) return current;
    const timing = timingOf(record.cron ?? { everyMs: record.everyMs! }, record.timezone);
    return { record, timing, lastEligible: lastEligibleTick(timing, record), timer: current?.timer };
  }

  async #refresh(): Promise<void> {
    if (!this.#running) return;
    try {
      const records = await this.#host.store.listRecords<ScheduleRecord>(SCHEDULES);
      const seen = new Set<string>();
      const armed: Promise<void>[] = [];
      for (const { value } of records) {
        seen.add(value.id);
        const current = this.#armed.get(value.id);
        if (!current || current.record.updatedAt !== value.updatedAt) armed.push(this.#arm(value));
      }
      for (const id of [...this.#armed.keys()]) if (!seen.has(id)) this.#disarm(id);
      await Promise.all(armed);
    } catch (error) {
      reportError(error, "scheduler: reading schedules failed");
    }
    if (this.#running) this.#refreshTimer = this.#host.clock.setTimeout(() => void this.#refresh(), this.#refreshMs);
  }

  /**
   * Evaluates a schedule now (making up what it missed), then sleeps until its next tick, or
   * until a tick left pending by another node is due to be taken over, if sooner.
   */
  #arm(record: ScheduleRecord): Promise<void> {
    this.#disarm(record.id);
    const armed = this.#prepare(record);
    this.#armed.set(record.id, armed);
    return this.#run(armed);
  }

  async #run(armed: Armed): Promise<void> {
    const { clock } = this.#host;
    const evaluatedAt = clock.now();
    let recheckAt: number | null;
    try {
      ({ recheckAt } = await this.#serially(armed.record.id, () => fireDue(this.#host, armed, evaluatedAt, { graceMs: this.#graceMs, claimTimeoutMs: this.#claimTimeoutMs })));
    } catch (error) {
      reportError(error, `scheduler: schedule "${armed.record.id}" failed to fire`);
      // A tick may be claimed and not enqueued (the store failed): look again once it is overdue.
      // Not on a node that lacks the job, which leaves the schedule to nodes that have it.
      recheckAt = isConveyorError(error, "UNKNOWN_JOB") ? null : evaluatedAt + this.#claimTimeoutMs;
    }
    if (!this.#running || this.#armed.get(armed.record.id) !== armed) return;
    // From the time evaluated, not the time now: a tick that passed while it ran is next.
    const next = armed.timing.next(evaluatedAt);
    const nextTick = next !== null && Number.isFinite(next) && next <= armed.lastEligible ? next : Infinity;
    const wakeAt = Math.min(nextTick, recheckAt ?? Infinity);
    if (wakeAt === Infinity) return;
    // A tick already past (the evaluation took a while) runs at once. A tick further off than
    // one runtime timer reaches (a yearly cron) is waited for in steps: waking early finds
    // nothing due and sleeps again for the rest.
    armed.timer = clock.setTimeout(() => void this.#run(armed), Math.min(MAX_TIMER_DELAY_MS, Math.max(0, wakeAt - clock.now())));
  }

  #disarm(id: string): void {
    const armed = this.#armed.get(id);
    if (armed?.timer !== undefined) this.#host.clock.clearTimeout(armed.timer);
    this.#armed.delete(id);
  }

  #serially<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.#chains.set(id, next.catch(() => {}));
    return next;
  }

  async #update(id: string, change: Partial<ScheduleRecord>): Promise<ScheduleInfo> {
    const record = await this.#require(id);
    const updated = { ...record, ...change, updatedAt: Math.max(this.#host.clock.now(), record.updatedAt + 1) };
    await this.#host.store.putRecord(SCHEDULES, id, updated);
    if (this.#running) await this.#arm(updated);
    return await this.#info(updated);
  }

  async #require(id: string): Promise<ScheduleRecord> {
    const record = await this.#host.store.getRecord<ScheduleRecord>(SCHEDULES, id);
    if (!record) throw new ConveyorError("JOB_NOT_FOUND", `No schedule "${id}"`);
    return record;
  }

  async #info(record: ScheduleRecord): Promise<ScheduleInfo> {
    const { state } = await readState(this.#host.store, record.id);
    const armed = this.#prepare(record);
    const from = Math.max(this.#host.clock.now(), state.lastTick ?? -Infinity, firstFloor(record));
    const next = record.paused ? null : armed.timing.next(from);
    const lastJob = state.lastJobId ? await this.#host.queue(record.queue).get(state.lastJobId) : null;
    const skippedLast = state.lastSkippedAt !== null && state.lastSkippedAt >= (state.lastRunAt ?? -Infinity);
    return {
      ...record,
      nextRunAt: next !== null && next <= armed.lastEligible ? next : null,
      lastRunAt: state.lastRunAt,
      lastJobId: state.lastJobId,
      lastOutcome: skippedLast ? "skipped" : lastJob?.state ?? null,
      runs: state.runs,
      skipped: state.skipped,
    };
  }

  #open(): void {
    if (this.#closed) throw new ConveyorError("WORKER_CLOSED", "This scheduler is closed");
  }
}
