// Completed and failed jobs per minute over the last hour, per queue, for the overview's small
// charts. Counted from the queues' events (every worker sharing the store sends them) since this
// app started, on the conveyor's clock; 60 buckets a queue at most.
import type { Clock } from "../core/clock.ts";
import type { Queue } from "../core/queue.ts";
import { Html } from "./html.ts";

const MINUTE = 60_000;
const MINUTES = 60;

interface Bucket {
  minute: number;
  completed: number;
  failed: number;
}

export interface LastHour {
  /** Oldest minute first; the last entry is the current minute. */
  readonly completed: readonly number[];
  readonly failed: readonly number[];
}

export class Throughput {
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket[]>();
  readonly #watched = new WeakSet<Queue>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  watch(queue: Queue): void {
    if (this.#watched.has(queue)) return;
    this.#watched.add(queue);
    queue.events.addEventListener("completed", () => this.#count(queue.name, "completed"));
    // Every failed attempt, retried or not: the failure rate the reader watches for.
    queue.events.addEventListener("failed", () => this.#count(queue.name, "failed"));
  }

  lastHour(queue: string): LastHour {
    const now = Math.floor(this.#clock.now() / MINUTE);
    const completed = new Array<number>(MINUTES).fill(0);
    const failed = new Array<number>(MINUTES).fill(0);
    for (const b of this.#buckets.get(queue) ?? []) {
      const at = MINUTES - 1 - (now - b.minute);
      if (at < 0 || at >= MINUTES) continue;
      completed[at] = b.completed;
      failed[at] = b.failed;
    }
    return { completed, failed };
  }

  #count(queue: string, outcome: "completed" | "failed"): void {
    const minute = Math.floor(this.#clock.now() / MINUTE);
    let buckets = this.#buckets.get(queue);
    if (!buckets) this.#buckets.set(queue, buckets = []);
    let bucket = buckets.at(-1);
    if (!bucket || bucket.minute !== minute) {
      buckets.push(bucket = { minute, completed: 0, failed: 0 });
      while (buckets.length > MINUTES) buckets.shift();
    }
    bucket[outcome]++;
  }
}

/** A 60-bar chart as inline SVG (no asset, nothing the CSP would stop), with its figures as its name. */
export function sparkline(hour: LastHour, queue: string): Html {
  const done = hour.completed.reduce((a, b) => a + b, 0);
  const failed = hour.failed.reduce((a, b) => a + b, 0);
  const top = Math.max(1, ...hour.completed.map((c, i) => c + hour.failed[i]!));
  const h = 24;
  let bars = "";
  hour.completed.forEach((c, i) => {
    const f = hour.failed[i]!;
    const ch = Math.round((c / top) * h);
    const fh = Math.round((f / top) * h);
    if (ch > 0) bars += `<rect x="${i * 2}" y="${h - ch}" width="2" height="${ch}" fill="#1a6b2f"/>`;
    if (fh > 0) bars += `<rect x="${i * 2}" y="${h - ch - fh}" width="2" height="${fh}" fill="#a4161a"/>`;
  });
  const rate = done + failed === 0 ? "no runs" : `${((failed / (done + failed)) * 100).toFixed(1)} % failed`;
  const label = `${queue}, last hour: ${done} completed, ${failed} failed attempts (${rate})`;
  const text = label.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return new Html(`<svg role="img" aria-label="${text}" width="120" height="${h}" viewBox="0 0 120 ${h}" class="spark"><title>${text}</title><rect x="0" y="${h - 1}" width="120" height="1" fill="#d0d7de"/>${bars}</svg>`);
}
