import type { EventHandler, ListenOptions } from "./listener-types.ts";
import type { RunningJob } from "./job-context.ts";
import { ListenerSet } from "./listener-set.ts";
import type { Queue } from "./queue.ts";
import { DEFAULT_REDACTOR, type Redactor } from "./redaction.ts";

/** An error the worker survived (a store call failed); the worker goes on. */
export class WorkerErrorEvent extends Event {
  readonly error: unknown;
  /** The queue whose store call failed (a worker may serve several); null when none in particular. */
  readonly queue: string | null;
  constructor(error: unknown, queue: string | null = null) {
    super("error");
    this.error = error;
    this.queue = queue;
  }
}

/**
 * A worker's own events: `error` for what it survived. With no `error` listener an error goes
 * to the console instead, so it is never silent; the listeners are tracked exactly (added
 * twice counts once; `once`, `signal` and removal take them away).
 */
export class WorkerEventTarget extends EventTarget {
  readonly #errorListeners = new ListenerSet();
  /** Redacts what goes to the console (a store's error may quote a connection URL or a command). */
  protected redactor: Redactor = DEFAULT_REDACTOR;

  override addEventListener(
    type: "error",
    listener: ((event: WorkerErrorEvent) => void) | { handleEvent(event: Event): void } | null,
    options?: boolean | ListenOptions,
  ): void;
  override addEventListener(type: string, listener: EventHandler | null, options?: boolean | ListenOptions): void;
  override addEventListener(type: string, listener: EventHandler | null, options?: boolean | ListenOptions) {
    if (type === "error") this.#errorListeners.added(listener, options);
    super.addEventListener(type, listener, options);
  }

  override removeEventListener(
    type: string,
    listener: EventHandler | null,
    options?: boolean | { capture?: boolean },
  ): void {
    if (type === "error") this.#errorListeners.removed(listener, options);
    super.removeEventListener(type, listener, options);
  }

  /** To the `error` listeners, or to the console when there are none. */
  protected reportError(error: unknown, label: string, queue: string | null = null): void {
    if (this.#errorListeners.size > 0) {
      this.dispatchEvent(new WorkerErrorEvent(error, queue));
      this.#errorListeners.dispatched();
    } else console.error(`conveyor: ${label}: ${this.redactor.errorText(error)}`);
  }
}

/**
 * A job that failed for good is never silent: when nobody in this process listens for
 * `failed` or `dead` on its queue, one line goes to the console.
 */
export function warnIfUnwatched(queue: Queue, { job, outcome }: RunningJob, state: "failed" | "dead"): void {
  const demand = queue.events.demand;
  if (demand.includes("failed") || demand.includes("dead")) return;
  // The error was redacted when the outcome was made (storeOutcome).
  const error = outcome?.kind === "failed" ? `${outcome.error.name}: ${outcome.error.message}` : "unknown error";
  console.warn(`conveyor: job ${job.id} (${job.name}) on queue "${queue.name}" failed for good and is now ${state}: ${error}`);
}
