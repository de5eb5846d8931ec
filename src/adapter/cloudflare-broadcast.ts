// Cloudflare Workers: a Pusher protocol 7 server inside a Durable Object, on the WebSocket
// Hibernation API. The runtime holds the sockets; the object may be evicted while they idle
// (they cost no duration then) and is rebuilt from their attachments when a frame or a
// publish arrives. One object holds every socket of an app, so its fan-out is the whole fan-out.
import { type Context, Hono } from "hono";
import * as v from "valibot";
import { Broadcaster } from "../broadcast/broadcaster.ts";
import { exceedsBytes } from "../broadcast/byte-size.ts";
import { apiSignatureProblem, BatchBodySchema, TriggerBodySchema } from "../broadcast/http-api.ts";
import { ChannelNameSchema, channelKind, CLOSE, frame, PROTOCOL_VERSION } from "../broadcast/protocol.ts";
import { parseArgument } from "../core/validation.ts";
import { errorResponse, HttpError } from "../http/errors.ts";
import { notFound } from "../http/fallback.ts";
import { validated } from "../http/route.ts";
import { sizeLimit } from "../http/size-limit.ts";
import { type HibernatableWebSocket, HibernatingHub } from "./cloudflare-broadcast-hub.ts";

export interface BroadcastDurableObjectOptions {
  /** The Pusher app id, in the HTTP API's paths. */
  appId: string;
  /** The public key clients connect with (`new Pusher(key, …)`). */
  key: string;
  /** Verifies channel auth and HTTP API signatures. At least 16 characters; the Worker's `Broadcaster` signs with the same. */
  secret: string;
  /** Seconds of silence after which clients ping (sent to them in the handshake). @default 120 */
  activityTimeoutSec?: number;
  /** Largest frame a client may send, and largest event data the HTTP API takes. @default 10_240 */
  maxMessageBytes?: number;
  /** Sockets one object accepts; more are closed with 4100. @default 32_768 (Cloudflare's limit per object) */
  maxConnections?: number;
}

const OptionsSchema = v.object({ maxConnections: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(32_768))) });

/** The part of a Durable Object's `ctx` (DurableObjectState) used here. */
export interface BroadcastObjectState {
  acceptWebSocket(ws: HibernatableWebSocket, tags?: string[]): void;
  getWebSockets(tag?: string): HibernatableWebSocket[];
  setWebSocketAutoResponse(pair?: unknown): void;
}

interface ServerSocket extends HibernatableWebSocket {
  accept(): void;
}
declare const WebSocketPair: new () => { 0: unknown; 1: ServerSocket };
declare const WebSocketRequestResponsePair: new (request: string, response: string) => unknown;

/** pusher-js's ping, byte for byte: the runtime answers it without waking the object. */
const PING = JSON.stringify({ event: "pusher:ping", data: {} });
const PONG = frame("pusher:pong", {});

/**
 * The Durable Object. Export a class made by `broadcastDurableObject` from the Worker and bind it
 * (wrangler: `[[durable_objects.bindings]]` plus a migration listing it); the Worker forwards
 * `/app/:key` and `/apps/:appId/*` to it with `DurableObjectBroadcaster.forward`.
 */
export class BroadcastDurableObject {
  readonly #ctx: BroadcastObjectState;
  readonly #app: Broadcaster;
  readonly #hub: HibernatingHub;
  readonly #maxConnections: number;
  readonly #http: Hono;

  constructor(ctx: BroadcastObjectState, options: BroadcastDurableObjectOptions) {
    this.#ctx = ctx;
    this.#maxConnections = parseArgument(OptionsSchema, { maxConnections: options.maxConnections }, "broadcast Durable Object options").maxConnections ?? 32_768;
    // The Broadcaster checks the options and holds the signer; it accepts no sockets here.
    this.#app = new Broadcaster({ appId: options.appId, key: options.key, secret: options.secret, activityTimeoutSec: options.activityTimeoutSec, maxMessageBytes: options.maxMessageBytes });
    this.#hub = new HibernatingHub(this.#app, () => ctx.getWebSockets());
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    this.#http = this.#routes();
  }

  fetch(request: Request): Response | Promise<Response> {
    return this.#http.fetch(request);
  }

  async webSocketMessage(ws: HibernatableWebSocket, message: string | ArrayBuffer): Promise<void> {
    const connection = this.#hub.connection(ws);
    if (!connection) return ws.close(CLOSE.RECONNECT, "Connection state lost: reconnect");
    await connection.receive(typeof message === "string" ? message : "\u0000binary");
  }

  async webSocketClose(ws: HibernatableWebSocket, code: number, reason: string): Promise<void> {
    await this.#hub.close(ws);
    try {
      ws.close(code, reason); // completes the closing handshake on compatibility dates that do not
    } catch { /* already closed */ }
  }

  async webSocketError(ws: HibernatableWebSocket): Promise<void> {
    await this.#hub.close(ws);
  }

  #upgrade(request: Request, key: string): Response {
    const url = new URL(request.url);
    const protocol = url.searchParams.get("protocol");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const answer = () => new Response(null, { status: 101, webSocket: client } as ResponseInit);
    const refuse = (code: number, reason: string) => {
      server.accept(); // not hibernatable: it closes at once
      server.send(frame("pusher:error", { code, message: reason }));
      server.close(code, reason);
      return answer();
    };
    if (key !== this.#app.key) return refuse(CLOSE.APP_NOT_FOUND, `App key ${key.slice(0, 64)} does not exist`);
    if (protocol === null) return refuse(CLOSE.PROTOCOL_MISSING, "No protocol version given (?protocol=7)");
    if (Number(protocol) !== PROTOCOL_VERSION) return refuse(CLOSE.PROTOCOL_UNSUPPORTED, `Protocol ${protocol.slice(0, 8)} is not supported; use 7`);
    if (this.#ctx.getWebSockets().length >= this.#maxConnections) return refuse(CLOSE.OVER_CAPACITY, "Over capacity: try again later");
    this.#ctx.acceptWebSocket(server);
    const connection = this.#hub.open(server, newSocketId());
    connection.send(frame("pusher:connection_established", { socket_id: connection.socketId, activity_timeout: this.#app.activityTimeoutSec }));
    return answer();
  }

  /** The WebSocket endpoint and the Pusher HTTP API (every request signed with the app secret). */
  #routes(): Hono {
    const app = new Hono();
    app.onError(errorResponse);
    app.notFound(notFound);
    const hub = this.#hub;
    const limit = sizeLimit(102_400);
    const signed = async (c: Context, body: string | null) => {
      if (c.req.param("appId") !== this.#app.appId) throw new HttpError(404, "APP_NOT_FOUND", `No app ${c.req.param("appId")}`);
      const problem = await apiSignatureProblem({ method: c.req.method, path: c.req.path, query: c.req.query(), body }, this.#app, this.#app.clock.now());
      if (problem) throw new HttpError(401, "UNAUTHENTICATED", problem);
    };
    const json = (text: string): unknown => {
      try {
        return JSON.parse(text);
      } catch {
        throw new HttpError(400, "INVALID_JSON", "The body is not valid JSON");
      }
    };
    const tooLarge = (data: string) => {
      if (exceedsBytes(data, this.#app.maxMessageBytes)) throw new HttpError(413, "PAYLOAD_TOO_LARGE", `Event data is larger than ${this.#app.maxMessageBytes} bytes`);
    };

    app.get("/app/:key", (c) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new HttpError(426, "UPGRADE_REQUIRED", "Connect with a WebSocket");
      return this.#upgrade(c.req.raw, c.req.param("key"));
    });

    app.post("/apps/:appId/events", limit, async (c) => {
      const text = await c.req.text();
      await signed(c, text);
      const event = validated(TriggerBodySchema, json(text), "body");
      const channels = event.channels ?? (event.channel ? [event.channel] : []);
      if (channels.length === 0) throw new HttpError(400, "VALIDATION_FAILED", "Give channels or channel");
      tooLarge(event.data);
      for (const channel of channels) hub.deliver({ channel, event: event.name, data: event.data, exceptSocketId: event.socket_id ?? null });
      return c.json({});
    });

    app.post("/apps/:appId/batch_events", limit, async (c) => {
      const text = await c.req.text();
      await signed(c, text);
      const { batch } = validated(BatchBodySchema, json(text), "body");
      for (const event of batch) tooLarge(event.data);
      for (const event of batch) hub.deliver({ channel: event.channel, event: event.name, data: event.data, exceptSocketId: event.socket_id ?? null });
      return c.json({ batch: batch.map(() => ({})) });
    });

    app.get("/apps/:appId/channels", async (c) => {
      await signed(c, null);
      const prefix = c.req.query("filter_by_prefix") ?? "";
      const wantUsers = (c.req.query("info") ?? "").split(",").includes("user_count");
      const channels: Record<string, { user_count?: number }> = {};
      for (const name of hub.channels().keys()) {
        if (name.startsWith(prefix)) channels[name] = wantUsers && channelKind(name) === "presence" ? { user_count: hub.members(name).length } : {};
      }
      return c.json({ channels });
    });

    app.get("/apps/:appId/channels/:channel", async (c) => {
      await signed(c, null);
      const channel = validated(ChannelNameSchema, c.req.param("channel"), "path.channel");
      const info = (c.req.query("info") ?? "").split(",");
      const count = hub.channels().get(channel) ?? 0;
      const presence = channelKind(channel) === "presence";
      return c.json({
        occupied: count > 0,
        ...(info.includes("subscription_count") ? { subscription_count: count } : {}),
        ...(info.includes("user_count") && presence ? { user_count: hub.members(channel).length } : {}),
      });
    });

    app.get("/apps/:appId/channels/:channel/users", async (c) => {
      await signed(c, null);
      const channel = validated(ChannelNameSchema, c.req.param("channel"), "path.channel");
      if (channelKind(channel) !== "presence") throw new HttpError(400, "VALIDATION_FAILED", "Only presence channels have users");
      return c.json({ users: hub.members(channel).map((m) => ({ id: m.user_id })) });
    });
    return app;
  }
}

/**
 * A Durable Object class for wrangler's `class_name`, its options read from the Worker's env:
 * `export const Broadcasts = broadcastDurableObject((env: Env) => ({ appId, key, secret: env.PUSHER_SECRET }))`.
 */
export function broadcastDurableObject<Env>(
  options: (env: Env) => BroadcastDurableObjectOptions,
): new (ctx: BroadcastObjectState, env: Env) => BroadcastDurableObject {
  return class extends BroadcastDurableObject {
    constructor(ctx: BroadcastObjectState, env: Env) {
      super(ctx, options(env));
    }
  };
}

/** Pusher socket ids are two integers joined by a dot. */
function newSocketId(): string {
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  return `${a}.${b}`;
}

export { type BroadcastNamespace, DurableObjectBroadcaster, type DurableObjectBroadcasterOptions, relayJobEvents } from "./cloudflare-broadcast-client.ts";
export type { HibernatableWebSocket } from "./cloudflare-broadcast-hub.ts";
