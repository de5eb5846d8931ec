import type { Clock, TimerHandle } from "../../core/clock.ts";
import { type ConveyorEventData, type ConveyorEventType, EVENT_TYPES } from "../../core/events.ts";
import { reportError } from "../../util/report-error.ts";
import type { StoreEventListener, Subscription } from "../../core/store-contract.ts";
import type { QueueKeys } from "./keys.ts";
import type { DenoKv } from "./kv.ts";

/**
 * Commits of different processes can land out of seq order, so each poll re-reads this much of
 * the log behind the newest entry it has seen and skips the entries it already delivered.
 */
const REREAD_WINDOW = 5_000 * 1_000; // 5 s of seqs (seq = ms × 1000)

interface QueueListeners {
  readonly byType: Map<ConveyorEventType, Set<StoreEventListener>>;
  tail: LogTail | undefined;
}

/**
 * Events of the queues in one Deno KV. This process's own events go to its listeners at once;
 * other processes' events are read from the log their commits wrote, on each poll (Deno KV's
 * `watch` does not see other processes' writes to a local SQLite file, so polling is the one
 * way that works everywhere; `watch: true` adds it where it does, as on Deno Deploy).
 */
export class EventHub {
  readonly #kv: DenoKv;
  readonly #nodeId: string;
  readonly #pollMs: number;
  readonly #watch: boolean;
  readonly #clock: Clock;
  readonly #queues = new Map<string, QueueListeners>();

  constructor(kv: DenoKv, nodeId: string, options: { pollMs: number; watch: boolean; clock: Clock }) {
    this.#kv = kv;
    this.#nodeId = nodeId;
    this.#pollMs = options.pollMs;
    this.#watch = options.watch;
    this.#clock = options.clock;
  }

  deliver(queue: string, events: readonly ConveyorEventData[]): void {
    const listeners = this.#queues.get(queue);
    if (!listeners) return;
    for (const event of events) {
      for (const listener of listeners.byType.get(event.type) ?? []) {
        try {
          listener(event);
        } catch (error) {
          reportError(error, "an event listener threw");
        }
      }
    }
  }

  subscribe(keys: QueueKeys, queue: string, listener: StoreEventListener, types: readonly ConveyorEventType[] = EVENT_TYPES): Subscription {
    let entry = this.#queues.get(queue);
    if (!entry) this.#queues.set(queue, entry = { byType: new Map(), tail: undefined });
    for (const type of types) {
      if (!entry.byType.has(type)) entry.byType.set(type, new Set());
      entry.byType.get(type)!.add(listener);
    }
    entry.tail ??= new LogTail(this.#kv, keys, this.#nodeId, { pollMs: this.#pollMs, watch: this.#watch, clock: this.#clock }, (events) => this.deliver(queue, events));
    const tail = entry.tail;
    return {
      ready: tail.ready,
      close: () => {
        for (const type of types) entry.byType.get(type)?.delete(listener);
        if ([...entry.byType.values()].every((set) => set.size === 0)) {
          tail.stop();
          this.#queues.delete(queue);
        }
      },
    };
  }

  close(): void {
    for (const entry of this.#queues.values()) entry.tail?.stop();
    this.#queues.clear();
  }
}

/** Follows one queue's event log, delivering other processes' entries once each. */
class LogTail {
  readonly ready: Promise<void>;
  readonly #kv: DenoKv;
  readonly #keys: QueueKeys;
  readonly #nodeId: string;
  readonly #onEvents: (events: ConveyorEventData[]) => void;
  /** Entries already handled, by "seq/node", kept while inside the re-read window. */
  readonly #seen = new Map<string, number>();
  #newest = 0;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  #watcher: ReadableStreamDefaultReader<unknown> | undefined;
  #polling: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(
    kv: DenoKv,
    keys: QueueKeys,
    nodeId: string,
    { pollMs, watch, clock }: { pollMs: number; watch: boolean; clock: Clock },
    onEvents: (events: ConveyorEventData[]) => void,
  ) {
    this.#kv = kv;
    this.#clock = clock;
    this.#keys = keys;
    this.#nodeId = nodeId;
    this.#onEvents = onEvents;
    // What is in the log before we subscribed is history, not news.
    this.ready = this.#read(false).then(() => {
      if (this.#stopped) return;
      const loop = () => {
        this.#timer = clock.setTimeout(() => void this.poll().finally(() => !this.#stopped && loop()), pollMs);
      };
      loop();
      if (watch && kv.watch) this.#follow(kv.watch([keys.eventTick]).getReader());
    });
    this.ready.catch(() => {});
  }

  /** Reads the log now (coalesced: one read at a time, one more if asked meanwhile). */
  poll(): Promise<void> {
    if (this.#polling) {
      this.#again = true;
      return this.#polling;
    }
    this.#polling = (async () => {
      do {
        this.#again = false;
        try {
          await this.#read(true);
        } catch (error) {
          reportError(error, "deno kv store: reading the event log failed");
        }
      } while (this.#again && !this.#stopped);
      this.#polling = undefined;
    })();
    return this.#polling;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#watcher?.cancel().catch(() => {});
  }

  async #follow(reader: ReadableStreamDefaultReader<unknown>): Promise<void> {
    this.#watcher = reader;
    try {
      while (!this.#stopped && !(await reader.read()).done) void this.poll();
    } catch {
      // The watch ended (closed database): polling goes on.
    }
  }

  async #read(deliver: boolean): Promise<void> {
    const from = Math.max(0, this.#newest - REREAD_WINDOW);
    const news: ConveyorEventData[] = [];
    const selector = { prefix: this.#keys.events, start: [...this.#keys.events, from] };
    for await (const entry of this.#kv.list<ConveyorEventData[]>(selector)) {
      const seq = entry.key[entry.key.length - 2] as number;
      const node = entry.key[entry.key.length - 1] as string;
      const id = `${seq}/${node}`;
      if (this.#seen.has(id)) continue;
      this.#seen.set(id, seq);
      if (seq > this.#newest) this.#newest = seq;
      if (deliver && node !== this.#nodeId) news.push(...entry.value);
    }
    const oldest = this.#newest - REREAD_WINDOW;
    for (const [id, seq] of this.#seen) if (seq < oldest) this.#seen.delete(id);
    if (news.length > 0 && !this.#stopped) this.#onEvents(news);
  }
}
