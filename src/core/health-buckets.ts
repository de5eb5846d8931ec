// Hourly execution buckets: what each process adds up in memory, what the store keeps (one
// record per queue and hour, namespace `stats:<queue>`, key the hour), and the figures read back.

export const HOUR_MS = 3_600_000;

/** Buckets of the figures: the current hour and the 23 before it. */
export const FIGURE_HOURS = 24;

/** Buckets are deleted once they are this old (twice what the figures read, for late writers). */
export const KEEP_BUCKETS_MS = 48 * HOUR_MS;

/**
 * Durations go into buckets a quarter of a power of two wide (~19%): bucket 0 holds 0–1 ms,
 * bucket i > 0 holds (2^((i-1)/4), 2^(i/4)] ms. 128 buckets reach past 4 years, so nothing
 * overflows; a p95 read from them is within ~10% of the true one.
 */
export const HISTOGRAM_SIZE = 128;

export function histogramIndex(durationMs: number): number {
  return durationMs <= 1 ? 0 : Math.min(HISTOGRAM_SIZE - 1, Math.ceil(4 * Math.log2(durationMs)));
}

/** The middle of bucket i (geometric), the value reported for durations that fell in it. */
function bucketValue(index: number): number {
  return index === 0 ? 1 : 2 ** ((index - 0.5) / 4);
}

export const namespaceOf = (queue: string): string => `stats:${queue}`;

/** `2026-01-01T13`: sorts as time does, so a store's key order is hour order. */
export const hourKey = (hourStart: number): string => new Date(hourStart).toISOString().slice(0, 13);

export const hourOf = (at: number): number => at - (((at % HOUR_MS) + HOUR_MS) % HOUR_MS);

/** One process's counts for one queue and hour, not yet written. */
export class Tally {
  completed = 0;
  retried = 0;
  failed = 0;
  durationMs = 0;
  maxMs = 0;
  readonly histogram = new Uint32Array(HISTOGRAM_SIZE);

  add(other: Tally): void {
    this.completed += other.completed;
    this.retried += other.retried;
    this.failed += other.failed;
    this.durationMs += other.durationMs;
    this.maxMs = Math.max(this.maxMs, other.maxMs);
    for (let i = 0; i < HISTOGRAM_SIZE; i++) this.histogram[i]! += other.histogram[i]!;
  }
}

/** One hour of one queue as stored: the sum of every process's tallies for it. */
export interface StatsBucket {
  readonly v: 1;
  /** The hour's start, epoch ms. */
  readonly hour: number;
  readonly completed: number;
  /** Attempts that failed and were retried. */
  readonly retried: number;
  /** Attempts that failed for good (to `failed` or `dead`). */
  readonly failed: number;
  /** Sum of every attempt's duration. */
  readonly durationMs: number;
  readonly maxMs: number;
  /** Attempts per duration bucket (see `histogramIndex`), only the buckets used. */
  readonly histogram: Readonly<Record<string, number>>;
}

function isBucket(value: unknown): value is StatsBucket {
  const b = value as StatsBucket;
  return typeof b === "object" && b !== null && b.v === 1 && typeof b.completed === "number" && typeof b.histogram === "object";
}

/** The stored bucket with a tally added; a record that is not a bucket is started over. */
export function mergeBucket(stored: unknown, tally: Tally, hour: number): StatsBucket {
  const base = isBucket(stored) ? stored : null;
  const histogram: Record<string, number> = { ...base?.histogram };
  tally.histogram.forEach((n, i) => {
    if (n > 0) histogram[i] = (histogram[i] ?? 0) + n;
  });
  return {
    v: 1,
    hour,
    completed: (base?.completed ?? 0) + tally.completed,
    retried: (base?.retried ?? 0) + tally.retried,
    failed: (base?.failed ?? 0) + tally.failed,
    durationMs: (base?.durationMs ?? 0) + tally.durationMs,
    maxMs: Math.max(base?.maxMs ?? 0, tally.maxMs),
    histogram,
  };
}

/** A queue's last 24 hours, from the buckets every process wrote. */
export interface QueueFigures {
  /** Start of the first hour counted (the current hour and the 23 before it). */
  readonly from: string;
  /** Attempts that ended: completed, retried or failed for good. */
  readonly executions: number;
  readonly completed: number;
  /** Attempts that failed, retried or not. */
  readonly failed: number;
  readonly retried: number;
  readonly failedForGood: number;
  /** completed / executions (0..1); null when nothing ran. */
  readonly successRate: number | null;
  /** failed / executions (0..1); null when nothing ran. */
  readonly failureRate: number | null;
  /** Over every attempt, completed or failed. */
  readonly averageDurationMs: number | null;
  /** 95th percentile of attempt durations, from the histogram (within ~10%). */
  readonly p95DurationMs: number | null;
  readonly maxDurationMs: number | null;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Adds up the buckets of the 24 hours up to `now` (others are ignored). */
export function figuresOf(buckets: readonly { key: string; value: unknown }[], now: number): QueueFigures {
  const first = hourOf(now) - (FIGURE_HOURS - 1) * HOUR_MS;
  const from = hourKey(first), to = hourKey(hourOf(now));
  let completed = 0, retried = 0, failed = 0, durationMs = 0, maxMs = 0;
  const histogram = new Float64Array(HISTOGRAM_SIZE);
  for (const { key, value } of buckets) {
    if (key < from || key > to || !isBucket(value)) continue;
    completed += value.completed;
    retried += value.retried;
    failed += value.failed;
    durationMs += value.durationMs;
    maxMs = Math.max(maxMs, value.maxMs);
    for (const [index, n] of Object.entries(value.histogram)) histogram[Number(index)]! += n;
  }
  const executions = completed + retried + failed;
  return {
    from: new Date(first).toISOString(),
    executions,
    completed,
    failed: retried + failed,
    retried,
    failedForGood: failed,
    successRate: executions ? round(completed / executions, 4) : null,
    failureRate: executions ? round((retried + failed) / executions, 4) : null,
    averageDurationMs: executions ? Math.round(durationMs / executions) : null,
    p95DurationMs: executions ? Math.round(Math.min(maxMs, percentile(histogram, executions, 0.95))) : null,
    maxDurationMs: executions ? maxMs : null,
  };
}

/** The value of the bucket holding the ceil(q·n)-th smallest duration. */
function percentile(histogram: Float64Array, total: number, q: number): number {
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < HISTOGRAM_SIZE; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return bucketValue(i);
  }
  return bucketValue(HISTOGRAM_SIZE - 1);
}
