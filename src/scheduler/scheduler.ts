import * as v from "valibot";
import type { Clock, TimerHandle } from "../core/clock.ts";
import type { JobDefinition, PayloadInput } from "../core/define-job.ts";
import { isJobDefinition } from "../core/define-job.ts";
import { ConveyorError } from "../core/errors.ts";
import type { Job, JobState } from "../core/job.ts";
import { type JobOptions, JobOptionsFields } from "../core/job-options.ts";
import { NameSchema } from "../core/names.ts";
import type { EnqueuedJob, Queue } from "../core/queue.ts";
import { parseArgument, parseData } from "../core/validation.ts";
import type { QueueStore } from "../store/contract.ts";
import { reportError } from "../util/report-error.ts";
import {
  EMPTY_STATE,
  type ScheduleOptions,
  ScheduleOptionsSchema,
  type ScheduleRecord,
  type ScheduleState,
} from "./schedule-options.ts";
import { type Timing, timingOf, type When } from "./timing.ts";

const SCHEDULES = "schedules";
const STATES = "schedule-state";

export interface SchedulerOptions {
  /** A tick up to this late still fires as on time (a busy event loop, clocks apart); older ones are "missed". @default 2_000 */
  graceMs?: number;
  /** How often stored schedules are read again, to pick up ones changed by other nodes. @default 5_000 */
  refreshMs?: number;
  /** Start firing at once (otherwise call `start()`, or drive it with `tick()`). @default true */
  autostart?: boolean;
}

/** What a schedule enqueues at each tick: a job definition with its payload, on a queue. */
export interface ScheduleTarget<D extends JobDefinition = JobDefinition> {
  readonly queue: string;
  readonly job: D;
  readonly payload: PayloadInput<D>;
  /** Options of every job it enqueues (priority, attempts, backoff, timeout, retention …). */
  readonly options?: Omit<JobOptions, "jobId" | "delayMs" | "runAt" | "dedupKey">;
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

/** A scheduler's hooks into the conveyor it belongs to. */
export interface SchedulerHost {
  readonly store: QueueStore;
  readonly clock: Clock;
  queue(name: string): Queue;
}

interface Armed {
  record: ScheduleRecord;
  timing: Timing;
  /** Last tick this schedule may fire (by endAt and maxRuns). */
  lastEligible: number;
  timer: TimerHandle | undefined;
}

/** A schedule's job options: timing and identity are the schedule's own. */
const TargetOptionsSchema = v.omit(JobOptionsFields, ["jobId", "delayMs", "runAt", "dedupKey"]);

/**
 * Fires schedules into queues. Any number of schedulers may share one store: each tick becomes
 * one job whose id names the schedule and the tick's time, so every node computes the same id
 * and the store's atomic deduplication keeps exactly one, with no leader to lose. Ticks come
 * from timers on the conveyor's clock, or from `tick(now)` where an edge cron trigger drives it.
 */
export class Scheduler {
  readonly #host: SchedulerHost;
  readonly #graceMs: number;
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
        refreshMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10))),
        autostart: v.optional(v.boolean()),
      }),
      options,
      "scheduler options",
    );
    this.#host = host;
    this.#graceMs = parsed.graceMs ?? 2_000;
    this.#refreshMs = parsed.refreshMs ?? 5_000;
    if (parsed.autostart ?? true) queueMicrotask(() => void this.start());
  }

  /**
   * Defines (or redefines) a schedule and stores it. Every node may call this with the same
   * definition at startup; the stored schedule keeps its history.
   */
  async schedule<D extends JobDefinition>(id: string, when: When, target: ScheduleTarget<D>, options: ScheduleOptions = {}): Promise<ScheduleInfo> {
    this.#open();
    const record = this.#buildRecord(id, when, target, options);
    const existing = await this.#host.store.getRecord<ScheduleRecord>(SCHEDULES, record.id);
    const same = existing && JSON.stringify({ ...existing, createdAt: 0, updatedAt: 0 }) === JSON.stringify({ ...record, createdAt: 0, updatedAt: 0 });
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
    await this.#writeState(id, (state) => ({ ...state, lastTick: Math.max(state.lastTick ?? -Infinity, now) }));
    return await this.#update(id, { paused: false });
  }

  async remove(id: string): Promise<boolean> {
    const removed = await this.#host.store.deleteRecord(SCHEDULES, id);
    await this.#host.store.deleteRecord(STATES, id);
    this.#disarm(id);
    return removed;
  }

  /** Enqueues a run now, outside the schedule's ticks (overlap rules do not apply). */
  async trigger(id: string): Promise<Job> {
    const record = await this.#require(id);
    const now = this.#host.clock.now();
    const job = await this.#enqueue(record, undefined);
    await this.#writeState(id, (state) => ({ ...state, lastRunAt: now, lastJobId: job.id, runs: state.runs + 1 }));
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
    const fired = await Promise.all(records.map(({ value }) => this.#serially(value.id, () => this.#evaluate(this.#prepare(value), now, graceMs))));
    return fired.flat();
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

  #buildRecord<D extends JobDefinition>(id: string, when: When, target: ScheduleTarget<D>, options: ScheduleOptions): ScheduleRecord {
    parseArgument(NameSchema, id, "schedule id");
    if (!target || !isJobDefinition(target.job)) throw new TypeError(`schedule("${id}") needs { queue, job, payload } with a job made by defineJob()`);
    parseArgument(NameSchema, target.queue, "queue name");
    const o = parseData(ScheduleOptionsSchema, options ?? {}, `options of schedule "${id}"`);
    const timezone = o.timezone ?? null;
    timingOf(when, timezone); // throws, quoting the bad expression or timezone
    parseData(target.job.schema, target.payload, `payload of schedule "${id}"`);
    const jobOptions = parseData(TargetOptionsSchema, target.options ?? {}, `job options of schedule "${id}"`);
    if (o.startAt !== undefined && o.endAt !== undefined && o.endAt < o.startAt) {
      throw new ConveyorError("VALIDATION_FAILED", `Schedule "${id}" ends before it starts`, { issues: [{ path: "endAt", message: "after startAt" }] });
    }
    this.#host.queue(target.queue).register(target.job);
    const now = this.#host.clock.now();
    const catchUp = o.catchUp ?? "none";
    return {
      id,
      queue: target.queue,
      job: target.job.name,
      payload: target.payload,
      jobOptions: Object.fromEntries(Object.entries(jobOptions).filter(([, value]) => value !== undefined)),
      cron: typeof when === "string" ? when.trim() : null,
      everyMs: typeof when === "string" ? null : when.everyMs,
      timezone,
      startAt: o.startAt ?? null,
      endAt: o.endAt ?? null,
      maxRuns: o.maxRuns ?? null,
      overlap: o.overlap ?? "skip",
      catchUp: typeof catchUp === "string" ? { mode: catchUp, max: 1 } : { mode: "all", max: catchUp.all },
      paused: o.paused ?? false,
      createdAt: now,
      updatedAt: now,
    };
  }

  #prepare(record: ScheduleRecord): Armed {
    const current = this.#armed.get(record.id);
    if (current && current.record.updatedAt === record.updatedAt) return current;
    const timing = timingOf(record.cron ?? { everyMs: record.everyMs! }, record.timezone);
    let lastEligible = record.endAt ?? Infinity;
    if (record.maxRuns !== null) {
      // The maxRuns-th tick from the start: every node agrees which ticks are in, whoever fires them.
      let tick: number | null = firstFloor(record);
      for (let i = 0; i < record.maxRuns && tick !== null; i++) tick = timing.next(tick);
      lastEligible = Math.min(lastEligible, tick ?? Infinity);
    }
    return { record, timing, lastEligible, timer: current?.timer };
  }

  /** Fires the ticks of one schedule due by `now`; returns the jobs it created. */
  async #evaluate(armed: Armed, now: number, graceMs: number): Promise<Job[]> {
    const { record, timing } = armed;
    if (record.paused) return [];
    let state = await this.#host.store.getRecord<ScheduleState>(STATES, record.id) ?? EMPTY_STATE;
    // Ticks after this one are new: not before the schedule existed or started, nor already dealt with.
    const floor = Math.max(state.lastTick ?? -Infinity, firstFloor(record));
    const upTo = Math.min(now, armed.lastEligible);
    if (upTo <= floor) return [];
    const onTime: number[] = [];
    for (let tick = timing.next(Math.max(floor, now - graceMs - 1)); tick !== null && tick <= upTo; tick = timing.next(tick)) {
      onTime.push(tick);
      if (onTime.length > 10_000) break;
    }
    const missedBefore = Math.min(upTo, now - graceMs - 1);
    let missed: number[] = [];
    if (missedBefore > floor) {
      const { mode, max } = record.catchUp;
      const wanted = mode === "all" ? max : mode === "latest" && onTime.length === 0 ? 1 : 0;
      missed = wanted > 0 ? timing.latest(missedBefore, wanted).filter((tick) => tick > floor) : [];
    }
    const created: Job[] = [];
    for (const tick of [...missed, ...onTime]) {
      const result = await this.#fire(record, tick, state, now);
      state = result.state;
      if (result.job) created.push(result.job);
    }
    // Ticks passed over (missed and not made up) are dealt with too.
    const newest = timing.latest(upTo, 1)[0];
    if (newest !== undefined && newest > (state.lastTick ?? -Infinity)) state = { ...state, lastTick: newest };
    await this.#writeState(record.id, (stored) => merge(stored, state));
    return created;
  }

  async #fire(record: ScheduleRecord, tick: number, state: ScheduleState, now: number): Promise<{ job?: Job; state: ScheduleState }> {
    if (record.overlap !== "allow" && state.lastJobId !== null) {
      const last = await this.#host.queue(record.queue).get(state.lastJobId);
      const pending = last !== null && (last.state === "waiting" || last.state === "delayed");
      const busy = pending || last?.state === "active";
      if (record.overlap === "skip" ? busy : pending) {
        return { state: { ...state, lastTick: tick, skipped: state.skipped + 1, lastSkippedAt: now } };
      }
    }
    const job = await this.#enqueue(record, tick);
    const next: ScheduleState = { ...state, lastTick: tick, lastRunAt: now, lastJobId: job.id, runs: state.runs + (job.duplicate ? 0 : 1) };
    return { job: job.duplicate ? undefined : job, state: next };
  }

  /** The tick's job, under an id every node derives alike (a manual trigger gets a fresh one). */
  async #enqueue(record: ScheduleRecord, tick: number | undefined): Promise<EnqueuedJob> {
    const queue = this.#host.queue(record.queue);
    const definition = queue.definitions.get(record.job);
    if (!definition) {
      throw new ConveyorError("UNKNOWN_JOB", `Schedule "${record.id}" enqueues job "${record.job}", which is not registered on queue "${record.queue}" in this process`);
    }
    const jobId = tick === undefined ? undefined : `schedule:${record.id}:${tick}`;
    return await queue.add(definition, record.payload as never, {
      ...record.jobOptions,
      ...(jobId ? { jobId } : {}),
      createdBy: `schedule:${record.id}`,
    } as JobOptions);
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

  /** Evaluates a schedule now (making up what it missed), then sleeps until its next tick. */
  #arm(record: ScheduleRecord): Promise<void> {
    this.#disarm(record.id);
    const armed = this.#prepare(record);
    this.#armed.set(record.id, armed);
    return this.#run(armed);
  }

  async #run(armed: Armed): Promise<void> {
    const { clock } = this.#host;
    const evaluatedAt = clock.now();
    try {
      await this.#serially(armed.record.id, () => this.#evaluate(armed, evaluatedAt, this.#graceMs));
    } catch (error) {
      reportError(error, `scheduler: schedule "${armed.record.id}" failed to fire`);
    }
    if (!this.#running || this.#armed.get(armed.record.id) !== armed) return;
    // From the time evaluated, not the time now: a tick that passed while it ran is next.
    const next = armed.timing.next(evaluatedAt);
    const now = clock.now();
    if (next === null || next > armed.lastEligible) return;
    // A tick already past (the evaluation took a while) runs at once; a timer that fires a little
    // early finds nothing due and re-arms for the rest.
    armed.timer = clock.setTimeout(() => void this.#run(armed), Math.max(0, next - now));
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

  /** Read, change, write: concurrent nodes can interleave, so `merge` keeps what only moves forward. */
  async #writeState(id: string, change: (state: ScheduleState) => ScheduleState): Promise<void> {
    const stored = await this.#host.store.getRecord<ScheduleState>(STATES, id) ?? EMPTY_STATE;
    await this.#host.store.putRecord(STATES, id, change(stored));
  }

  async #info(record: ScheduleRecord): Promise<ScheduleInfo> {
    const state = await this.#host.store.getRecord<ScheduleState>(STATES, record.id) ?? EMPTY_STATE;
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

/** Ticks after this instant are the schedule's: from `startAt` on (inclusive), else strictly after it was created. */
function firstFloor(record: ScheduleRecord): number {
  return record.startAt !== null ? record.startAt - 1 : record.createdAt;
}

/** Two views of a schedule's state: the one further along wins, field by field where that is safe. */
function merge(stored: ScheduleState, ours: ScheduleState): ScheduleState {
  if ((stored.lastTick ?? -Infinity) > (ours.lastTick ?? -Infinity)) return stored;
  return {
    ...ours,
    runs: Math.max(ours.runs, stored.runs),
    skipped: Math.max(ours.skipped, stored.skipped),
  };
}
