// One client's WebSocket, speaking Pusher protocol 7: subscriptions, client events, liveness.
import * as v from "valibot";
import type { Clock } from "../core/clock.ts";
import type { BroadcastMessage, PresenceMember } from "./backend.ts";
import { exceedsBytes } from "./byte-size.ts";
import { ChannelDataSchema, channelKind, type ClientFrame, ClientFrameSchema, ERROR, errorFrame, frame } from "./protocol.ts";

/** What a runtime adapter hands over for one accepted WebSocket. */
export interface SocketLike {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/**
 * What a connection asks of the hub it belongs to (the Broadcaster). Declared here, so the hub
 * depends on connections and never the other way round.
 */
export interface ConnectionHub {
  readonly clock: Clock;
  readonly maxMessageBytes: number;
  subscribe(connection: Connection, channel: string, member: PresenceMember | null): Promise<void>;
  unsubscribe(connection: Connection, channel: string): Promise<void>;
  verifySubscription(socketId: string, channel: string, auth: string, channelData?: string): Promise<boolean>;
  publishRaw(message: BroadcastMessage): Promise<void>;
}

/** Client events each connection may send per second, as Pusher allows. */
const CLIENT_EVENTS_PER_SECOND = 10;

export class Connection {
  readonly socketId: string;
  readonly socket: SocketLike;
  /** Channel → the presence member this socket joined as (null on other kinds). */
  readonly channels: Map<string, PresenceMember | null> = new Map();
  lastSeenAt: number;
  pingSentAt: number | null = null;
  closed = false;
  readonly #hub: ConnectionHub;
  #windowStart = 0;
  #eventsInWindow = 0;

  constructor(hub: ConnectionHub, socket: SocketLike, socketId: string, now: number) {
    this.#hub = hub;
    this.socket = socket;
    this.socketId = socketId;
    this.lastSeenAt = now;
  }

  send(text: string): void {
    if (this.closed) return;
    try {
      this.socket.send(text);
    } catch {
      // A socket that cannot take a frame is going away; its close event tidies up.
    }
  }

  /** One text frame from the client. Bad frames get a pusher:error and never throw. */
  async receive(text: string): Promise<void> {
    const now = this.#hub.clock.now();
    this.lastSeenAt = now;
    this.pingSentAt = null;
    if (exceedsBytes(text, this.#hub.maxMessageBytes)) {
      return this.send(errorFrame(ERROR.TOO_LARGE, `Frames may be at most ${this.#hub.maxMessageBytes} bytes`));
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return this.send(errorFrame(ERROR.INVALID_FRAME, "The frame is not valid JSON"));
    }
    // pusher-js sends data as an object; some clients send it as a JSON string.
    const frameObject = raw as { event?: unknown; data?: unknown } | null;
    if (frameObject && typeof frameObject === "object" && frameObject.event === "pusher:subscribe" && typeof frameObject.data === "string") {
      try {
        frameObject.data = JSON.parse(frameObject.data);
      } catch { /* the schema reports it */ }
    }
    const parsed = v.safeParse(ClientFrameSchema, raw);
    if (!parsed.success) {
      const event = (raw as { event?: unknown } | null)?.event;
      const what = typeof event === "string" ? `"${event.slice(0, 60)}"` : "a frame without an event";
      return this.send(errorFrame(ERROR.INVALID_FRAME, `Cannot handle ${what}: ${v.summarize(parsed.issues).split("\n")[0]}`));
    }
    await this.#handle(parsed.output, now);
  }

  async #handle(message: ClientFrame, now: number): Promise<void> {
    switch (message.event) {
      case "pusher:ping":
        return this.send(frame("pusher:pong", {}));
      case "pusher:pong":
        return;
      case "pusher:subscribe": {
        const data = message.data as { channel: string; auth?: string; channel_data?: string };
        return await this.#subscribe(data.channel, data.auth, data.channel_data);
      }
      case "pusher:unsubscribe":
        return await this.#hub.unsubscribe(this, (message.data as { channel: string }).channel);
      default:
        return await this.#clientEvent(message as { event: string; channel: string; data?: unknown }, now);
    }
  }

  async #subscribe(channel: string, auth: string | undefined, channelData: string | undefined): Promise<void> {
    if (this.channels.has(channel)) return this.send(frame("pusher_internal:subscription_succeeded", {}, channel));
    const kind = channelKind(channel);
    if (kind === "public") return await this.#hub.subscribe(this, channel, null);
    const refuse = (error: string) => this.send(frame("pusher:subscription_error", { type: "AuthError", error, status: 401 }, channel));
    if (!auth) return refuse(`Subscribing to ${kind} channel ${channel} needs an auth signature`);
    if (kind === "presence" && channelData === undefined) return refuse(`Subscribing to presence channel ${channel} needs channel_data`);
    if (!(await this.#hub.verifySubscription(this.socketId, channel, auth, channelData))) {
      return refuse(`The auth signature for ${channel} is not valid for this connection`);
    }
    let member: PresenceMember | null = null;
    if (kind === "presence") {
      let data: unknown;
      try {
        data = JSON.parse(channelData!);
      } catch { /* reported below */ }
      const parsed = v.safeParse(ChannelDataSchema, data);
      if (!parsed.success) return refuse("channel_data must be JSON with a user_id");
      member = { user_id: String(parsed.output.user_id), user_info: parsed.output.user_info ?? null };
    }
    await this.#hub.subscribe(this, channel, member);
  }

  async #clientEvent(message: { event: string; channel: string; data?: unknown }, now: number): Promise<void> {
    const kind = channelKind(message.channel);
    const reject = (why: string) => this.send(errorFrame(ERROR.CLIENT_EVENT_REJECTED, `Client event ${message.event} rejected: ${why}`));
    if (kind === "public") return reject("client events are allowed on private and presence channels only");
    if (!this.channels.has(message.channel)) return reject(`not subscribed to ${message.channel}`);
    if (now - this.#windowStart >= 1_000) {
      this.#windowStart = now;
      this.#eventsInWindow = 0;
    }
    if (++this.#eventsInWindow > CLIENT_EVENTS_PER_SECOND) return reject(`more than ${CLIENT_EVENTS_PER_SECOND} client events a second`);
    const data = typeof message.data === "string" ? message.data : JSON.stringify(message.data ?? {});
    const member = this.channels.get(message.channel);
    await this.#hub.publishRaw({ channel: message.channel, event: message.event, data, exceptSocketId: this.socketId, userId: member?.user_id ?? null });
  }
}
