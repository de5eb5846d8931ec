// The Worker's side of broadcasting through a Durable Object: it forwards clients' sockets and
// HTTP API calls to the object, and publishes (job events included) as signed HTTP API requests,
// so the object has one way in for events and it is always authenticated.
//
// Job events are relayed from listeners, not from `queue.events.stream()` as `broadcastJobEvents`
// does: a Worker cancels promise continuations that cross from one request into another, and a
// stream read in the request that opened it would receive the next requests' events.
import * as v from "valibot";
import type { Broadcaster, PublishOptions } from "../broadcast/broadcaster.ts";
import { signedApiQuery } from "../broadcast/http-api.ts";
import { defaultJobChannels, JOB_EVENT_TYPES, type JobBroadcastOptions } from "../broadcast/job-events.ts";
import { ChannelNameSchema } from "../broadcast/protocol.ts";
import type { ConveyorEvent } from "../core/events.ts";
import type { Queue } from "../core/queue.ts";
import { parseArgument } from "../core/validation.ts";
import { reportError } from "../util/report-error.ts";

/** The part of a Durable Object namespace binding used here. */
export interface BroadcastNamespace {
  idFromName(name: string): unknown;
  get(id: never): { fetch(request: Request): Promise<Response> };
}

export interface DurableObjectBroadcasterOptions {
  /** The object holding the app's sockets, by name: one object per app. @default "pusher" */
  name?: string;
}

/** The HTTP API takes at most this many channels per event. */
const CHANNELS_PER_REQUEST = 100;

/** Paths the object answers: the WebSocket endpoint and the Pusher HTTP API. */
const OBJECT_PATH = /^\/(app\/[^/]+|apps\/[^/]+\/.*)$/;

export class DurableObjectBroadcaster {
  readonly #namespace: BroadcastNamespace;
  readonly #app: Pick<Broadcaster, "appId" | "key" | "sign" | "clock">;
  readonly #name: string;
  readonly #outbox: (() => Promise<void>)[] = [];
  #sending: Promise<void> | null = null;

  /**
   * `app` is the Worker's Broadcaster (the one serving `/broadcasting/auth`): it signs with the
   * secret the object verifies with. `namespace` is the binding (`env.BROADCAST`).
   */
  constructor(namespace: BroadcastNamespace, app: Pick<Broadcaster, "appId" | "key" | "sign" | "clock">, options: DurableObjectBroadcasterOptions = {}) {
    if (!namespace || typeof namespace.idFromName !== "function") throw new TypeError("DurableObjectBroadcaster needs the Durable Object namespace binding");
    this.#namespace = namespace;
    this.#app = app;
    this.#name = parseArgument(v.optional(v.pipe(v.string(), v.minLength(1))), options.name, "Durable Object name") ?? "pusher";
  }

  /** The object's answer for `/app/:key` (WebSockets) and `/apps/:appId/*` (the HTTP API); null for other paths. */
  forward(request: Request): Promise<Response> | null {
    return OBJECT_PATH.test(new URL(request.url).pathname) ? this.#stub().fetch(request) : null;
  }

  /**
   * Sends `event` to everyone on `channels`, as `Broadcaster.publish` does (so `broadcastJobEvents`
   * takes this too). Resolves once the object has handed the frame to every socket.
   */
  async publish(channels: string | readonly string[], event: string, data: unknown, options: PublishOptions = {}): Promise<void> {
    const list = typeof channels === "string" ? [channels] : [...channels];
    for (const channel of list) parseArgument(ChannelNameSchema, channel, "channel name");
    if (typeof event !== "string" || event.length === 0 || event.length > 200) throw new TypeError("publish() needs an event name of 1–200 characters");
    const text = typeof data === "string" ? data : JSON.stringify(data ?? null);
    for (let i = 0; i < list.length; i += CHANNELS_PER_REQUEST) {
      const body = JSON.stringify({ name: event, data: text, channels: list.slice(i, i + CHANNELS_PER_REQUEST), ...(options.exceptSocketId ? { socket_id: options.exceptSocketId } : {}) });
      const path = `/apps/${this.#app.appId}/events`;
      const query = await signedApiQuery("POST", path, body, this.#app, this.#app.clock.now());
      const response = await this.#stub().fetch(new Request(`https://broadcast.internal${path}?${query}`, { method: "POST", headers: { "content-type": "application/json" }, body }));
      if (!response.ok) {
        const answer = await response.text().catch(() => "");
        throw new Error(`The broadcast Durable Object refused an event (${response.status}): ${answer.slice(0, 200)}`);
      }
    }
  }

  /** Publishes after every event queued before it (job events keep their order); errors are reported, not thrown. */
  enqueue(channels: string | readonly string[], event: string, data: unknown): void {
    this.#outbox.push(() => this.publish(channels, event, data));
    this.#sending ??= this.#send();
  }

  /** Resolves once every queued event went out: the Worker passes it to `ctx.waitUntil` after `conveyor.drain()`. */
  settled(): Promise<void> {
    return this.#sending ?? Promise.resolve();
  }

  async #send(): Promise<void> {
    for (let next = this.#outbox.shift(); next; next = this.#outbox.shift()) {
      await next().catch((error) => reportError(error, "publishing to the broadcast Durable Object"));
    }
    this.#sending = null;
  }

  #stub() {
    return this.#namespace.get(this.#namespace.idFromName(this.#name) as never);
  }
}

/**
 * `broadcastJobEvents` for Workers: `queue`'s job events go to `edge` as `job.<type>` on the same
 * channels, redacted the same way, until the returned function is called. Await `edge.settled()`
 * (in `ctx.waitUntil`, after the drain) so the last events leave before the request ends.
 */
export function relayJobEvents(edge: DurableObjectBroadcaster, queue: Queue, options: JobBroadcastOptions = {}): () => void {
  const channels = options.channels ?? defaultJobChannels;
  const access = { payloads: options.payloads === true, stacks: false };
  const listener = (event: ConveyorEvent) => {
    edge.enqueue(channels(event.data), `job.${event.data.type}`, queue.context.redactor.forReader(event.data, access));
  };
  const types = options.types ?? JOB_EVENT_TYPES;
  for (const type of types) queue.events.addEventListener(type, listener);
  return () => {
    for (const type of types) queue.events.removeEventListener(type, listener);
  };
}
