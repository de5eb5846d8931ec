import * as v from "valibot";
import type { Clock } from "./clock.ts";
import type { QueueFigures } from "./health-buckets.ts";
import { type RegisteredCheck, runCheck, storeProbe, storeReadCheck } from "./health-checks.ts";
import { type QueueInForce, queueInForce } from "./health-config.ts";
import { type Bounded, valueOr, within } from "./health-deadline.ts";
import { StatsRecorder } from "./health-stats.ts";
import {
  type CheckResult, HEALTH_DEFAULTS, type HealthCheck, type HealthCheckOptions, type HealthOptions, type HealthStatus, worst,
} from "./health-types.ts";
import type { JobCounts } from "./job.ts";
import type { Queue } from "./queue.ts";
import type { StoreCapabilities, QueueStore } from "./store-contract.ts";
import { parseArgument } from "./validation.ts";
import type { Worker } from "./worker.ts";

/** What the health report reads: the conveyor's store, clock, queues and workers. */
export interface HealthHost {
  readonly store: QueueStore;
  readonly clock: Clock;
  readonly queues: ReadonlyMap<string, Queue>;
  readonly workers: ReadonlySet<Worker>;
}

/** One queue in a report; a part that did not answer by the deadline is null and named in `unavailable`. */
export interface QueueHealth {
  readonly name: string;
  readonly paused: boolean | null;
  readonly counts: JobCounts | null;
  readonly configuration: QueueInForce;
  /** The current hour and the 23 before it, from the hourly buckets every process writes; null without figures. */
  readonly last24h: QueueFigures | null;
  readonly unavailable: readonly string[];
}

export interface HealthReport {
  /** The worst of the checks (a non-critical check that is down counts as degraded). */
  readonly status: HealthStatus;
  readonly time: string;
  /** How long the report took, on the conveyor's clock. */
  readonly durationMs: number;
  readonly checks: Readonly<Record<string, CheckResult>>;
  readonly configuration: {
    readonly store: string;
    readonly capabilities: StoreCapabilities;
    /** How often this process writes its figures; null when it keeps none. */
    readonly statsFlushMs: number | null;
    readonly workers: readonly { id: string; queue: string; queues: string[]; concurrency: number; active: number; running: boolean }[];
  };
  readonly queues: readonly QueueHealth[];
}

const positiveMs = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(600_000));
const CheckOptionsSchema = v.strictObject({ timeoutMs: v.optional(positiveMs), critical: v.optional(v.boolean()) });
const isFunction = (value: unknown): value is HealthCheck => typeof value === "function";
const HealthOptionsSchema = v.strictObject({
  checks: v.optional(v.record(v.string(), v.union([
    v.custom<HealthCheck>(isFunction, "a check function"),
    v.strictObject({ check: v.custom<HealthCheck>(isFunction, "a check function"), ...CheckOptionsSchema.entries }),
  ]))),
  checkTimeoutMs: v.optional(positiveMs),
  deadlineMs: v.optional(positiveMs),
  statsFlushMs: v.optional(v.union([v.literal(false), positiveMs])),
});
const NameSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:-]{1,100}$/, "1–100 letters, digits, _ . : or -"));

/** Names the report gives its own checks. */
const BUILT_IN = new Set(["store", "store.connection"]);

/**
 * `conveyor.health`: timed checks of what the conveyor depends on (the store, its connection,
 * checks you register), the configuration in force, and the last 24 hours' figures from hourly
 * buckets in the store. A report never takes longer than `deadlineMs`, whatever hangs.
 */
export class Health {
  readonly #host: HealthHost;
  readonly #checks = new Map<string, RegisteredCheck>();
  readonly #checkTimeoutMs: number;
  readonly #deadlineMs: number;
  readonly #flushMs: number | null;
  /** Null when figures are off (`statsFlushMs: false`). */
  readonly stats: StatsRecorder | null;

  constructor(host: HealthHost, options: HealthOptions = {}) {
    const o = parseArgument(HealthOptionsSchema, options, "health options");
    this.#host = host;
    this.#checkTimeoutMs = o.checkTimeoutMs ?? HEALTH_DEFAULTS.checkTimeoutMs;
    this.#deadlineMs = o.deadlineMs ?? HEALTH_DEFAULTS.deadlineMs;
    this.#flushMs = o.statsFlushMs === false ? null : o.statsFlushMs ?? HEALTH_DEFAULTS.statsFlushMs;
    this.stats = this.#flushMs === null ? null : new StatsRecorder({
      store: host.store,
      clock: host.clock,
      flushMs: this.#flushMs,
      reportError: (error) => console.error("conveyor: health figures could not be written (kept, tried again):", error),
    });
    this.#checks.set("store", { check: storeReadCheck(host.store), timeoutMs: this.#checkTimeoutMs, critical: true });
    const probe = storeProbe(host.store);
    if (probe) this.#checks.set("store.connection", { check: probe, timeoutMs: this.#checkTimeoutMs, critical: true });
    for (const [name, entry] of Object.entries(o.checks ?? {})) {
      if (typeof entry === "function") this.register(name, entry);
      else this.register(name, entry.check, { timeoutMs: entry.timeoutMs, critical: entry.critical });
    }
  }

  /** The most a report takes, in ms. */
  get deadlineMs(): number {
    return this.#deadlineMs;
  }

  /** Adds a check run by every report, each within its own time limit; returns a function that removes it. */
  register(name: string, check: HealthCheck, options: HealthCheckOptions = {}): () => void {
    parseArgument(NameSchema, name, "health check name");
    if (typeof check !== "function") throw new TypeError(`health.register("${name}") expects a function (signal) => probe | boolean`);
    const o = parseArgument(CheckOptionsSchema, options, `options of health check "${name}"`);
    if (this.#checks.has(name)) {
      throw new RangeError(`A health check named "${name}" is registered already${BUILT_IN.has(name) ? " (a built-in one)" : ""}; choose another name`);
    }
    const entry: RegisteredCheck = { check, timeoutMs: o.timeoutMs ?? this.#checkTimeoutMs, critical: o.critical ?? true };
    this.#checks.set(name, entry);
    return () => {
      if (this.#checks.get(name) === entry) this.#checks.delete(name);
    };
  }

  /** Counts a worker's attempts into the figures (the conveyor does it for its workers). */
  watch(worker: Worker): void {
    if (this.stats) worker.onOutcome(this.stats.record);
  }

  /** Every check, in parallel, each within its limit and all within the deadline. */
  async check(): Promise<{ status: HealthStatus; checks: Record<string, CheckResult> }> {
    const { clock } = this.#host;
    const entries = [...this.#checks];
    const results = await Promise.all(entries.map(([, entry]) => runCheck(clock, entry, this.#deadlineMs)));
    const checks = Object.fromEntries(entries.map(([name], i) => [name, results[i]!]));
    return { status: worst(results.map((r) => r.critical || r.status !== "down" ? r.status : "degraded")), checks };
  }

  /**
   * The whole report, or one queue's (`queue`: a queue this process declared; unknown names are a
   * RangeError). This process's counts are written first, so the figures include them.
   */
  async report(options: { queue?: string } = {}): Promise<HealthReport> {
    const { clock, store } = this.#host;
    const started = clock.now();
    let queues = [...this.#host.queues.values()];
    if (options.queue !== undefined) {
      const queue = this.#host.queues.get(options.queue);
      if (!queue) throw new RangeError(`No queue "${options.queue}" is declared in this process`);
      queues = [queue];
    }
    const left = () => Math.max(0, started + this.#deadlineMs - clock.now());
    const bounded = <T>(work: () => Promise<T>): Promise<Bounded<T>> => within(clock, work, left());
    const flushed = this.stats ? bounded(() => this.stats!.flush()) : Promise.resolve(null);
    const [checked, sections] = await Promise.all([
      this.check(),
      Promise.all(queues.map((queue) => this.#queue(queue, bounded, flushed))),
    ]);
    return {
      status: checked.status,
      time: new Date(clock.now()).toISOString(),
      durationMs: clock.now() - started,
      checks: checked.checks,
      configuration: {
        store: store.constructor.name,
        capabilities: store.capabilities,
        statsFlushMs: this.#flushMs,
        workers: [...this.#host.workers].map((w) => ({
          id: w.id,
          queue: w.queue.name,
          queues: w.queues.map((q) => q.name),
          concurrency: w.concurrency,
          active: w.activeCount,
          running: w.isRunning,
        })),
      },
      queues: sections,
    };
  }

  /** Writes what this process holds, within the deadline (the conveyor closes with it). */
  async close(): Promise<void> {
    if (this.stats) await within(this.#host.clock, () => this.stats!.close(), this.#deadlineMs);
  }

  async #queue(
    queue: Queue,
    bounded: <T>(work: () => Promise<T>) => Promise<Bounded<T>>,
    flushed: Promise<unknown>,
  ): Promise<QueueHealth> {
    const unavailable: string[] = [];
    const part = <T>(name: string, result: Bounded<T>): T | null => {
      if (!result.done) unavailable.push(name);
      return valueOr(result, null);
    };
    const stats = this.stats;
    const figures = stats && bounded(async () => {
      await flushed;
      return await stats.figures(queue.name);
    });
    const [paused, counts, configuration, last24h] = await Promise.all([
      bounded(() => queue.isPaused()),
      bounded(() => queue.counts()),
      queueInForce(queue, this.#host.workers, async (read) => valueOr(await bounded(read), null)),
      figures,
    ]);
    return {
      name: queue.name,
      paused: part("paused", paused),
      counts: part("counts", counts),
      configuration,
      last24h: last24h === null ? null : part("last24h", last24h),
      unavailable,
    };
  }
}
