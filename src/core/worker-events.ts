import { ListenerSet } from "./listener-set.ts";

/** An error the worker survived (a store call failed); the worker goes on. */
export class WorkerErrorEvent extends Event {
  readonly error: unknown;
  constructor(error: unknown) {
    super("error");
    this.error = error;
  }
}

/**
 * A worker's own events: `error` for what it survived. With no `error` listener an error goes
 * to the console instead, so it is never silent; the listeners are tracked exactly (added
 * twice counts once; `once`, `signal` and removal take them away).
 */
export class WorkerEventTarget extends EventTarget {
  readonly #errorListeners = new ListenerSet();

  override addEventListener(
    type: "error",
    listener: ((event: WorkerErrorEvent) => void) | EventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions) {
    if (type === "error") this.#errorListeners.added(listener, options);
    super.addEventListener(type, listener, options);
  }

  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (type === "error") this.#errorListeners.removed(listener, options);
    super.removeEventListener(type, listener, options);
  }

  /** To the `error` listeners, or to the console when there are none. */
  protected reportError(error: unknown, label: string): void {
    if (this.#errorListeners.size > 0) {
      this.dispatchEvent(new WorkerErrorEvent(error));
      this.#errorListeners.dispatched();
    } else console.error(`conveyor: ${label}:`, error);
  }
}
