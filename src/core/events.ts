import type { EventHandler, ListenOptions } from "./listener-types.ts";
import type { ErrorInfo } from "./errors.ts";
import type { DeadLetterInfo, JobState } from "./job.ts";

interface JobRef {
  readonly queue: string;
  readonly at: number;
  readonly jobId: string;
  readonly name: string;
}

/** Every lifecycle event, as plain data (the same shape travels between processes). */
export type ConveyorEventData =
  | JobRef & { readonly type: "enqueued"; readonly runAt: number; readonly priority: number }
  | JobRef & { readonly type: "active"; readonly attempt: number; readonly workerId: string }
  | JobRef & { readonly type: "progress"; readonly progress: unknown }
  | JobRef & { readonly type: "completed"; readonly attempt: number; readonly result: unknown; readonly durationMs: number }
  | JobRef & { readonly type: "failed"; readonly attempt: number; readonly error: ErrorInfo; readonly final: boolean }
  | JobRef & { readonly type: "retrying"; readonly attempt: number; readonly retryAt: number }
  | JobRef & { readonly type: "cancelled"; readonly previous: JobState }
  | JobRef & { readonly type: "dead"; readonly deadLetter: DeadLetterInfo }
  | JobRef & { readonly type: "stalled"; readonly stalls: number; readonly requeued: boolean }
  | JobRef & { readonly type: "removed" }
  /** A child of this parent ended: how many there are, how many are still to end, how many failed. */
  | JobRef & {
    readonly type: "flow.progress" | "batch.progress";
    readonly total: number;
    readonly pending: number;
    readonly failed: number;
    readonly child: { readonly queue: string; readonly id: string; readonly state: JobState };
  }
  /** A schedule fired one tick into this queue: the job it started (a chain's or flow's first job). */
  | JobRef & { readonly type: "scheduled"; readonly scheduleId: string; readonly tickAt: number }
  | { readonly type: "drained" | "paused" | "resumed"; readonly queue: string; readonly at: number };

export type ConveyorEventType = ConveyorEventData["type"];
export type EventOf<T extends ConveyorEventType> = Extract<ConveyorEventData, { type: T }>;

export const EVENT_TYPES: readonly ConveyorEventType[] = Object.freeze([
  "enqueued", "active", "progress", "completed", "failed", "retrying",
  "cancelled", "dead", "stalled", "removed", "drained", "paused", "resumed", "flow.progress", "batch.progress", "scheduled",
]);

/** A DOM event that carries one lifecycle event's data. */
export class ConveyorEvent<T extends ConveyorEventType = ConveyorEventType> extends Event {
  readonly data: EventOf<T>;
  constructor(data: EventOf<T>) {
    super(data.type);
    this.data = data;
  }
}

export type ConveyorEventListener<T extends ConveyorEventType> = (event: ConveyorEvent<T>) => void;

type Listener = EventHandler;
// deno-lint-ignore no-explicit-any
type AnyListener = Listener | ConveyorEventListener<any>;

/**
 * The lifecycle events of one queue, from every worker that shares its store. Dispatch is
 * skipped while nobody listens, which keeps the hot path cheap.
 */
export class QueueEvents extends EventTarget {
  #listeners = new Map<string, Set<AnyListener>>();
  #streams = new Map<(data: ConveyorEventData) => void, ReadonlySet<ConveyorEventType> | undefined>();
  #onDemandChange: (() => void) | undefined;
  #whenReady: () => Promise<void> = () => Promise.resolve();

  override addEventListener<T extends ConveyorEventType>(
    type: T,
    listener: ConveyorEventListener<T> | null,
    options?: boolean | ListenOptions,
  ): void;
  override addEventListener(type: string, listener: Listener | null, options?: boolean | ListenOptions): void;
  override addEventListener(type: string, listener: AnyListener | null, options?: boolean | ListenOptions) {
    if (listener) {
      let set = this.#listeners.get(type);
      if (!set) this.#listeners.set(type, set = new Set());
      set.add(listener);
      this.#onDemandChange?.();
    }
    super.addEventListener(type, listener as Listener | null, options);
  }

  override removeEventListener<T extends ConveyorEventType>(
    type: T,
    listener: ConveyorEventListener<T> | null,
    options?: boolean | { capture?: boolean },
  ): void;
  override removeEventListener(type: string, listener: Listener | null, options?: boolean | { capture?: boolean }): void;
  override removeEventListener(type: string, listener: AnyListener | null, options?: boolean | { capture?: boolean }) {
    if (listener && this.#listeners.get(type)?.delete(listener)) this.#onDemandChange?.();
    super.removeEventListener(type, listener as Listener | null, options);
  }

  /**
   * The same events as a Web stream. Cancel the stream (or its reader) to stop. A consumer
   * that falls `maxBuffered` events behind gets the stream errored instead of unbounded memory.
   */
  stream(
    options: { types?: readonly ConveyorEventType[]; maxBuffered?: number } = {},
  ): ReadableStream<ConveyorEventData> {
    const types = options.types ? new Set(options.types) : undefined;
    const maxBuffered = options.maxBuffered ?? 10_000;
    let forward: ((data: ConveyorEventData) => void) | undefined;
    return new ReadableStream<ConveyorEventData>({
      start: (controller) => {
        forward = (data) => {
          if (types && !types.has(data.type)) return;
          if ((controller.desiredSize ?? 0) <= -maxBuffered) {
            this.#stopStream(forward!);
            controller.error(new RangeError(`event stream consumer fell more than ${maxBuffered} events behind`));
            return;
          }
          controller.enqueue(data);
        };
        this.#streams.set(forward, types);
        this.#onDemandChange?.();
      },
      cancel: () => {
        if (forward) this.#stopStream(forward);
      },
    }, { highWaterMark: 0 });
  }

  /** @internal Event types someone listens to or streams: the queue subscribes to just these. */
  get demand(): ConveyorEventType[] {
    const types = new Set<ConveyorEventType>();
    for (const [type, set] of this.#listeners) if (set.size > 0) types.add(type as ConveyorEventType);
    for (const streamed of this.#streams.values()) for (const type of streamed ?? EVENT_TYPES) types.add(type);
    return EVENT_TYPES.filter((type) => types.has(type));
  }

  /**
   * Resolves once events for the listeners and streams added so far are flowing. With a store
   * shared across processes, subscribing takes a round trip: await this before acting on
   * events you must not miss.
   */
  ready(): Promise<void> {
    return this.#whenReady();
  }

  /** @internal The queue's hook for `ready`. */
  set whenReady(callback: () => Promise<void>) {
    this.#whenReady = callback;
  }

  /** @internal The queue's hook to follow `demand`. */
  set onDemandChange(callback: (() => void) | undefined) {
    this.#onDemandChange = callback;
  }

  /** @internal Called by the queue for each event its store delivers. */
  deliver(data: ConveyorEventData): void {
    for (const forward of this.#streams.keys()) forward(data);
    if (this.#listeners.get(data.type)?.size) this.dispatchEvent(new ConveyorEvent(data));
  }

  #stopStream(forward: (data: ConveyorEventData) => void): void {
    this.#streams.delete(forward);
    this.#onDemandChange?.();
  }
}
