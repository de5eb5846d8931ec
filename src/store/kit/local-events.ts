import { type ConveyorEventData, type ConveyorEventType, EVENT_TYPES } from "../../core/events.ts";
import { reportError } from "../../util/report-error.ts";
import type { StoreEventListener, Subscription } from "../../core/store-contract.ts";

/**
 * One queue's event transport within this process: listeners by type, delivered in the order
 * events are handed in (per-queue order). `wants` lets a store skip building events nobody
 * listens to. Stores that carry events across processes deliver what arrives through one of these.
 */
export class LocalEvents {
  readonly #listeners = new Map<ConveyorEventType, Set<StoreEventListener>>(EVENT_TYPES.map((t) => [t, new Set()]));
  /** Types with at least one listener, checked on every transition before building an event. */
  readonly #wanted = new Set<ConveyorEventType>();

  wants(type: ConveyorEventType): boolean {
    return this.#wanted.size > 0 && this.#wanted.has(type);
  }

  /** True when anyone listens at all. */
  get listened(): boolean {
    return this.#wanted.size > 0;
  }

  subscribe(listener: StoreEventListener, types: readonly ConveyorEventType[] = EVENT_TYPES): Subscription {
    for (const type of types) this.#listeners.get(type)?.add(listener);
    this.#updateWanted();
    return {
      ready: Promise.resolve(),
      close: () => {
        for (const type of types) this.#listeners.get(type)?.delete(listener);
        this.#updateWanted();
      },
    };
  }

  /** Hands events to their listeners in order; a listener that throws is reported, not fatal. */
  deliver(events: readonly ConveyorEventData[]): void {
    for (const event of events) {
      for (const listener of this.#listeners.get(event.type) ?? []) {
        try {
          listener(event);
        } catch (error) {
          reportError(error, "an event listener threw");
        }
      }
    }
  }

  clear(): void {
    for (const set of this.#listeners.values()) set.clear();
    this.#updateWanted();
  }

  #updateWanted(): void {
    this.#wanted.clear();
    for (const [type, set] of this.#listeners) if (set.size > 0) this.#wanted.add(type);
  }
}
