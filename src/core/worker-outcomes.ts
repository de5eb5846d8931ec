import type { JobState } from "./job.ts";
import type { RunningJob } from "./job-context.ts";

/** How one attempt ended, once the store recorded it: `retried` failed and will run again, `failed` failed for good. */
export type AttemptResult = "completed" | "retried" | "failed";

/**
 * Told of each attempt a worker finished, after the store confirmed it. It runs on the worker's
 * hot path, synchronously: count here, do no I/O (the health figures add to counters and flush later).
 */
export type OutcomeListener = (queue: string, result: AttemptResult, durationMs: number, at: number) => void;

/** A worker's outcome listeners; with none, the pump pays one length check per batch. */
export class OutcomeListeners {
  #listeners: readonly OutcomeListener[] = [];

  get size(): number {
    return this.#listeners.length;
  }

  /** Adds a listener; the function returned removes it. */
  add(listener: OutcomeListener): () => void {
    if (typeof listener !== "function") throw new TypeError("onOutcome() expects a function (queue, result, durationMs, at) => void");
    this.#listeners = [...this.#listeners, listener];
    return () => this.#listeners = this.#listeners.filter((l) => l !== listener);
  }

  /** One attempt the store recorded (`state` is the job's state now), finished at `at`. */
  emit(queue: string, running: RunningJob, state: JobState, at: number): void {
    const result: AttemptResult = running.outcome?.kind === "completed" ? "completed" : state === "failed" || state === "dead" ? "failed" : "retried";
    const durationMs = Math.max(0, at - (running.job.startedAt ?? at));
    for (const listener of this.#listeners) {
      try {
        listener(queue, result, durationMs, at);
      } catch (error) {
        console.error("conveyor: an outcome listener threw:", error); // a counter that throws must not stop the worker
      }
    }
  }
}
