import type { ConveyorEventData } from "../../core/events.ts";
import type { StoreEventListener, Subscription } from "../../core/store-contract.ts";
import { reportError } from "../../util/report-error.ts";
import type { CallGuard } from "./availability.ts";
import { closeClient, type RedisClient } from "./connection.ts";

/** What sharded pub/sub needs of an ioredis Cluster client, beyond RedisClient. */
interface ShardedClient {
  duplicate(startupNodes: unknown[], options: { shardedSubscribers: boolean }): RedisClient;
  ssubscribe(...channels: string[]): Promise<unknown>;
  sunsubscribe(...channels: string[]): Promise<unknown>;
  on(event: "smessage", listener: (channel: string, message: string) => void): unknown;
}
const sharded = (client: RedisClient) => client as unknown as ShardedClient;

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

  /** A Redis Cluster's: channels are sharded (SSUBSCRIBE, on the node of each channel's slot). */
  readonly #sharded: boolean;

  constructor(client: () => Promise<RedisClient>, guard: CallGuard, sharded = false) {
    this.#client = client;
    this.#guard = guard;
    this.#sharded = sharded;
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
            this.#subscriber?.then((subscriber) => this.#sharded ? sharded(subscriber).sunsubscribe(name) : subscriber.unsubscribe(name)).catch(() => {});
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
    if (this.#sharded) await sharded(subscriber).ssubscribe(name);
    else await subscriber.subscribe(name);
  }

  #subscriberClient(): Promise<RedisClient> {
    this.#subscriber ??= this.#client().then((client) => {
      // ioredis's Cluster keeps a subscriber per master for sharded channels when asked to.
      const subscriber = this.#sharded ? sharded(client).duplicate([], { shardedSubscribers: true }) : client.duplicate();
      if (this.#sharded) sharded(subscriber).on("smessage", (name: string, message: string) => this.#onMessage(name, message));
      else subscriber.on("message", (name: string, message: string) => this.#onMessage(name, message));
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
