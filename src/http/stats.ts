import type { Clock } from "../core/clock.ts";
import type { Queue } from "../core/queue.ts";

const HOUR = 3_600_000;

interface Bucket {
  hour: number;
  completed: number;
  failed: number;
  durationMs: number;
}

export interface QueueStats {
  readonly completed: number;
  readonly failed: number;
  /** Completed over finished attempts' final outcomes, 0..1; null when nothing finished. */
  readonly successRate: number | null;
  readonly averageDurationMs: number | null;
}

/**
 * Executions per queue over the last 24 hours, in hourly buckets, from the queues' events (which
 * come from every worker sharing the store). Counted from when this process started watching.
 */
export class ExecutionStats {
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket[]>();
  readonly #totals = new Map<string, { completed: number; failed: number; durationMs: number }>();
  readonly #watched = new Set<Queue>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  watch(queue: Queue): void {
    if (this.#watched.has(queue)) return;
    this.#watched.add(queue);
    queue.events.addEventListener("completed", (e) => this.#record(queue.name, "completed", e.data.durationMs));
    queue.events.addEventListener("failed", (e) => {
      if (e.data.final) this.#record(queue.name, "failed", 0);
    });
  }

  last24h(queue: string): QueueStats {
    const since = Math.floor(this.#clock.now() / HOUR) - 23;
    let completed = 0, failed = 0, durationMs = 0;
    for (const b of this.#buckets.get(queue) ?? []) {
      if (b.hour < since) continue;
      completed += b.completed;
      failed += b.failed;
      durationMs += b.durationMs;
    }
    const finished = completed + failed;
    return {
      completed,
      failed,
      successRate: finished ? completed / finished : null,
      averageDurationMs: completed ? Math.round(durationMs / completed) : null,
    };
  }

  /** Totals since this process started watching (for Prometheus counters). */
  totals(queue: string): { completed: number; failed: number; durationMs: number } {
    return this.#totals.get(queue) ?? { completed: 0, failed: 0, durationMs: 0 };
  }

  #record(queue: string, outcome: "completed" | "failed", durationMs: number): void {
    const hour = Math.floor(this.#clock.now() / HOUR);
    let buckets = this.#buckets.get(queue);
    if (!buckets) this.#buckets.set(queue, buckets = []);
    let bucket = buckets.at(-1);
    if (!bucket || bucket.hour !== hour) {
      buckets.push(bucket = { hour, completed: 0, failed: 0, durationMs: 0 });
      while (buckets.length > 24) buckets.shift();
    }
    bucket[outcome]++;
    bucket.durationMs += durationMs;
    const total = this.#totals.get(queue) ?? { completed: 0, failed: 0, durationMs: 0 };
    total[outcome]++;
    total.durationMs += durationMs;
    this.#totals.set(queue, total);
  }
}
