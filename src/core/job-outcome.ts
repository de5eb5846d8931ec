import type { Clock, TimerHandle } from "./clock.ts";
import { ConveyorError, type ErrorInfo } from "./errors.ts";
import type { ConveyorEvent, ConveyorEventType } from "./events.ts";
import type { Job } from "./job.ts";
import type { QueueEvents } from "./events.ts";

/** Options of `queue.finished()`. */
export interface FinishedOptions {
  /** Give up after this long with a `WAIT_TIMEOUT` error; the job itself goes on. @default no limit */
  timeoutMs?: number;
  /** Give up when this aborts, with its reason. */
  signal?: AbortSignal;
  /**
   * Read the job again this often, in case an event was missed (a dropped connection to a shared
   * store). @default 5000
   */
  recheckMs?: number;
}

/** What `finished` needs of a queue: its events and a way to read the job. */
export interface OutcomeSource {
  readonly name: string;
  readonly events: QueueEvents;
  get(id: string): Promise<Job | null>;
}

const OUTCOME_EVENTS: readonly ConveyorEventType[] = ["completed", "failed", "dead", "cancelled", "removed"];

/**
 * Resolves with a job's result once it completes; rejects once it fails for good (`JOB_FAILED`,
 * the handler's last error as `cause`), is cancelled (`JOB_CANCELLED`) or is gone
 * (`JOB_NOT_FOUND`). Events settle it at once; the job is also read when waiting starts (it may
 * have finished already) and every `recheckMs`.
 */
export function waitForOutcome(source: OutcomeSource, id: string, clock: Clock, options: FinishedOptions = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let recheck: TimerHandle | undefined;
    let deadline: TimerHandle | undefined;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      for (const type of OUTCOME_EVENTS) source.events.removeEventListener(type, onEvent);
      options.signal?.removeEventListener("abort", onAbort);
      clock.clearTimeout(recheck);
      clock.clearTimeout(deadline);
      settle();
    };
    const fail = (error: ConveyorError) => finish(() => reject(error));
    const onEvent = (event: Event) => {
      const data = (event as ConveyorEvent).data;
      if (!("jobId" in data) || data.jobId !== id) return;
      switch (data.type) {
        case "completed":
          return finish(() => resolve(data.result));
        case "failed":
          if (data.final) fail(failedForGood(source.name, id, data.error));
          return;
        case "dead":
          return fail(failedForGood(source.name, id, data.deadLetter.error));
        case "cancelled":
          return fail(new ConveyorError("JOB_CANCELLED", `Job ${id} on queue "${source.name}" was cancelled`));
        case "removed":
          return void read();
      }
    };
    const read = async () => {
      let job: Job | null;
      try {
        job = await source.get(id);
      } catch (error) {
        // A closed store will not answer again; anything else may pass, so read again later.
        if (error instanceof ConveyorError && error.code === "STORE_CLOSED") return fail(error);
        return readLater();
      }
      if (!settled) settleFromRecord(job);
    };
    const readLater = () => {
      if (settled) return;
      clock.clearTimeout(recheck);
      recheck = clock.setTimeout(() => void read(), options.recheckMs ?? 5_000);
    };
    const settleFromRecord = (job: Job | null) => {
      if (job === null) return fail(new ConveyorError("JOB_NOT_FOUND", `Job ${id} is not on queue "${source.name}": never added, or removed (removeOnComplete deletes a completed job; wait before it can complete)`));
      if (job.state === "completed") return finish(() => resolve(job.result));
      if (job.state === "failed" || job.state === "dead") {
        return fail(failedForGood(source.name, id, job.lastError ?? job.dead?.error ?? null));
      }
      if (job.state === "cancelled") return fail(new ConveyorError("JOB_CANCELLED", `Job ${id} on queue "${source.name}" was cancelled`));
      readLater();
    };
    const onAbort = () => finish(() => reject(options.signal!.reason));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      deadline = clock.setTimeout(
        () => fail(new ConveyorError("WAIT_TIMEOUT", `Job ${id} on queue "${source.name}" did not finish within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
    }
    for (const type of OUTCOME_EVENTS) source.events.addEventListener(type, onEvent);
    // Listening first, then reading: a job that finishes in between is seen by one or the other.
    source.events.ready().then(read, (error) => fail(new ConveyorError("STORE_UNAVAILABLE", "Could not follow the queue's events", { cause: error })));
  });
}

function failedForGood(queue: string, id: string, error: ErrorInfo | null): ConveyorError {
  const why = error ? `${error.name}: ${error.message}` : "no error recorded";
  return new ConveyorError("JOB_FAILED", `Job ${id} on queue "${queue}" failed for good (${why})`, { cause: error ?? undefined });
}
