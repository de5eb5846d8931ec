import type { ConveyorEventData, ConveyorEventType } from "../../core/events.ts";
import type { StoreEventListener, Subscription } from "../../core/store-contract.ts";
import type { LoggedEvent } from "./protocol.ts";

/**
 * The recent events of the queues some Worker watches, numbered, so each Worker reads what it
 * has not seen yet with its next call (or poll). Kept in memory only: events are notices, not
 * state, and a restarted object starts a new log (a Worker seeing the numbers go back re-reads).
 */
export class EventLog {
  readonly #entries: { seq: number; queue: string; event: ConveyorEventData }[] = [];
  readonly #watched = new Map<string, { types: Set<ConveyorEventType>; subscription: Subscription }>();
  readonly #subscribe: (queue: string, listener: StoreEventListener, types: readonly ConveyorEventType[]) => Subscription;
  readonly #limit: number;
  #seq = 0;

  constructor(subscribe: (queue: string, listener: StoreEventListener, types: readonly ConveyorEventType[]) => Subscription, limit: number) {
    this.#subscribe = subscribe;
    this.#limit = limit;
  }

  get seq(): number {
    return this.#seq;
  }

  /** Starts keeping a queue's events of these types (once kept, for as long as the object lives). */
  watch(queue: string, types: readonly ConveyorEventType[]): void {
    const current = this.#watched.get(queue);
    if (current && types.every((type) => current.types.has(type))) return;
    const all = new Set([...current?.types ?? [], ...types]);
    current?.subscription.close();
    const subscription = this.#subscribe(queue, (event) => this.#append(queue, event), [...all]);
    this.#watched.set(queue, { types: all, subscription });
  }

  /** Events after `since` of the given queues, and whether some after it were already dropped. */
  after(since: number, queues: ReadonlySet<string>): { events: LoggedEvent[]; gap: boolean } {
    const oldest = this.#entries[0]?.seq ?? this.#seq + 1;
    const events: LoggedEvent[] = [];
    // Entries are in seq order: search back from the end for the first one after `since`.
    let i = this.#entries.length;
    while (i > 0 && this.#entries[i - 1]!.seq > since) i--;
    for (; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      if (queues.has(entry.queue)) events.push({ seq: entry.seq, event: entry.event });
    }
    return { events, gap: since < this.#seq && oldest > since + 1 };
  }

  #append(queue: string, event: ConveyorEventData): void {
    this.#entries.push({ seq: ++this.#seq, queue, event });
    if (this.#entries.length > this.#limit) this.#entries.splice(0, this.#entries.length - this.#limit);
  }
}
