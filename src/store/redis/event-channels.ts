import type { ConveyorEventData } from "../../core/events.ts";
import type { StoreEventListener, Subscription } from "../../core/store-contract.ts";
import { reportError } from "../../util/report-error.ts";
import type { CallGuard } from "./availability.ts";
import { closeClient, type RedisClient } from "./connection.ts";

interface Channel {
  readonly listeners: Set<StoreEventListener>;
  readonly subscribed: Promise<void>;
}

/**
 * The store's event transport: one pub/sub channel per queue and event type, all on one
 * subscriber connection, so the events of one queue arrive in the order they were published and
 * a subscriber receives only the types it asked for.
 */
export class RedisEventChannels {
  readonly #client: () => Promise<RedisClient>;
  readonly #guard: CallGuard;
  #subscriber: Promise<RedisClient> | undefined;
  readonly #channels = new Map<string, Channel>();

  constructor(client: () => Promise<RedisClient>, guard: CallGuard) {
    this.#client = client;
    this.#guard = guard;
  }

  subscribe(names: readonly string[], listener: StoreEventListener): Subscription {
    const ready: Promise<void>[] = [];
    for (const name of names) {
      let channel = this.#channels.get(name);
      if (!channel) {
        channel = { listeners: new Set(), subscribed: this.#subscribeChannel(name) };
        this.#channels.set(name, channel);
      }
      channel.listeners.add(listener);
      ready.push(channel.subscribed);
    }
    return {
      // Bounded, so a caller hears that Redis is out of reach; the subscription itself goes on and
      // comes live once Redis is back (ioredis subscribes again on reconnecting).
      ready: this.#guard.within(Promise.all(ready), "the subscription").then(() => {}),
      close: () => {
        for (const name of names) {
          const channel = this.#channels.get(name);
          if (!channel) continue;
          channel.listeners.delete(listener);
          if (channel.listeners.size === 0) {
            this.#channels.delete(name);
            this.#subscriber?.then((subscriber) => subscriber.unsubscribe(name)).catch(() => {});
          }
        }
      },
    };
  }

  async close(): Promise<void> {
    this.#channels.clear();
    const subscriber = await this.#subscriber?.catch(() => undefined);
    if (subscriber) await closeClient(subscriber);
  }

  async #subscribeChannel(name: string): Promise<void> {
    const subscriber = await this.#subscriberClient();
    await subscriber.subscribe(name);
  }

  #subscriberClient(): Promise<RedisClient> {
    this.#subscriber ??= this.#client().then((client) => {
      const subscriber = client.duplicate();
      subscriber.on("message", (name: string, message: string) => this.#onMessage(name, message));
      subscriber.on("error", () => {}); // reconnects on its own; workers re-check on their stall interval
      return subscriber;
    });
    return this.#subscriber;
  }

  #onMessage(name: string, message: string): void {
    const channel = this.#channels.get(name);
    if (!channel) return;
    let event: ConveyorEventData;
    try {
      event = JSON.parse(message);
    } catch {
      return;
    }
    for (const listener of channel.listeners) {
      try {
        listener(event);
      } catch (error) {
        reportError(error, "an event listener threw");
      }
    }
  }
}
