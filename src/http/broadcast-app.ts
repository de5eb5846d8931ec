// Broadcasting over HTTP: the Pusher WebSocket endpoint, the channel auth endpoint and the
// Pusher HTTP API (so the official `pusher` server SDK can publish), as one Hono app.
import { type Context, Hono, type Handler } from "hono";
import type { BlankEnv } from "hono/types";
import type { UpgradeWebSocket } from "hono/ws";
import * as v from "valibot";
import type { Broadcaster } from "../broadcast/broadcaster.ts";
import { exceedsBytes } from "../broadcast/byte-size.ts";
import type { Connection } from "../broadcast/connection.ts";
import { apiSignatureProblem, BatchBodySchema as BatchBody, TriggerBodySchema as TriggerBody } from "../broadcast/http-api.ts";
import { ChannelNameSchema, channelKind } from "../broadcast/protocol.ts";
import { RateLimiter } from "../core/rate-limiter.ts";
import { parseArgument } from "../core/validation.ts";
import { Authenticator, type AuthOptions } from "./auth.ts";
import { authenticate, AuthThrottle } from "./auth-throttle.ts";
import { clientKey, type TrustProxy, TrustProxySchema } from "./client-key.ts";
import { errorResponse, HttpError } from "./errors.ts";
import { notFound, RouteTable, unmatched } from "./fallback.ts";
import { validated } from "./route.ts";
import { sizeLimit } from "./size-limit.ts";

export interface BroadcastAppOptions {
  /**
   * Verifies the JWT of whoever asks for channel auth (the HTTP app's settings), or `false`.
   * Token expiry is judged on the broadcaster's clock unless `auth.clock` says otherwise.
   */
  auth: AuthOptions | false;
  /** The runtime's WebSocket upgrade, from its adapter (`conveyor/adapter/node` …). Without it, /app/:key answers 501. */
  upgradeWebSocket?: UpgradeWebSocket;
  /** Largest body of this app's POST routes (channel auth, the HTTP API); other apps' routes keep their own. @default 10 KiB per event × 10, as Pusher */
  bodyLimitBytes?: number;
  /**
   * Failed authentications (bad tokens at /broadcasting/auth, bad HTTP API signatures) allowed
   * per client before it gets 429 with Retry-After; `false` turns it off.
   * @default 10 a minute (sliding window), in this process's memory, on the broadcaster's clock
   */
  authFailureLimit?: RateLimiter | false;
  /** Whether X-Forwarded-For names the client, as the HTTP app's `trustProxy`. @default false */
  trustProxy?: TrustProxy;
}

const OptionsSchema = v.object({
  bodyLimitBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  authFailureLimit: v.optional(v.union([v.literal(false), v.instance(RateLimiter)])),
  trustProxy: v.optional(TrustProxySchema),
});

const AuthRequest = v.object({ socket_id: v.pipe(v.string(), v.regex(/^\d+\.\d+$/, "a socket id like 1234.5678")), channel_name: ChannelNameSchema });

export function createBroadcastApp(broadcaster: Broadcaster, options: BroadcastAppOptions): Hono {
  if (!options || (options.auth !== false && typeof options.auth !== "object")) {
    throw new TypeError("createBroadcastApp() needs { auth }: the JWT settings for channel auth, or auth: false");
  }
  parseArgument(OptionsSchema, options, "createBroadcastApp() options");
  const authenticator = options.auth === false ? null : new Authenticator({ ...options.auth, clock: options.auth.clock ?? broadcaster.clock });
  const trustProxy = options.trustProxy ?? false;
  const throttle = new AuthThrottle(options.authFailureLimit, broadcaster.clock);
  const limit = sizeLimit(options.bodyLimitBytes ?? 102_400);
  const table = new RouteTable();
  const app = new Hono();
  app.onError(errorResponse);
  app.notFound(notFound);
  app.use("*", unmatched(table));
  // Limits ride on each POST route, not on "*": mounted, a "*" middleware would cover every route of the host.
  const get = <P extends string>(path: P, handler: Handler<BlankEnv, P>) => {
    table.add("GET", path);
    app.get(path, handler);
  };
  const post = <P extends string>(path: P, handler: Handler<BlankEnv, P>) => {
    table.add("POST", path);
    app.post(path, limit, handler);
  };

  get("/app/:key", async (c, next) => {
    if (!options.upgradeWebSocket) {
      throw new HttpError(501, "WEBSOCKET_UNSUPPORTED", "This server was built without a WebSocket adapter: pass upgradeWebSocket from conveyor's adapter for your runtime");
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new HttpError(426, "UPGRADE_REQUIRED", "Connect with a WebSocket");
    const key = c.req.param("key");
    const protocol = c.req.query("protocol") ?? null;
    let connection: Connection | null = null;
    const upgrade = options.upgradeWebSocket(() => ({
      onOpen(_event, ws) {
        connection = broadcaster.accept({ send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason) }, { key, protocol });
      },
      onMessage(event) {
        if (!connection) return;
        const text = typeof event.data === "string" ? event.data : "\u0000binary";
        void connection.receive(text);
      },
      onClose() {
        if (connection) void broadcaster.disconnect(connection);
      },
      onError() {
        if (connection) void broadcaster.disconnect(connection);
      },
    }));
    return await upgrade(c, next);
  });

  // Channel auth, as pusher-js and Laravel Echo call it: form or JSON with socket_id and channel_name.
  post("/broadcasting/auth", async (c) => {
    const caller = await authenticate(c, authenticator, throttle, trustProxy);
    const type = c.req.header("content-type") ?? "";
    let raw: unknown;
    if (/^application\/json\b/i.test(type)) raw = await c.req.json().catch(() => null);
    else if (/^application\/x-www-form-urlencoded\b/i.test(type)) raw = Object.fromEntries(new URLSearchParams(await c.req.text()));
    else throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "Send socket_id and channel_name as a form or as JSON");
    const { socket_id, channel_name } = validated(AuthRequest, raw, "body");
    if (channelKind(channel_name) === "public") throw new HttpError(400, "VALIDATION_FAILED", "Public channels need no auth");
    const answer = await broadcaster.authorizeChannel(caller, socket_id, channel_name);
    if (!answer) throw new HttpError(403, "FORBIDDEN", `Not allowed on channel ${channel_name}`);
    return c.json(answer);
  });

  // The Pusher HTTP API: every request signed with the app secret; failures count against the client.
  const signed = async (c: Context, body: string | null) => {
    if (c.req.param("appId") !== broadcaster.appId) throw new HttpError(404, "APP_NOT_FOUND", `No app ${c.req.param("appId")}`);
    await throttle.guard(clientKey(c, trustProxy), () => checkSignature(c, body));
  };
  const checkSignature = async (c: Context, body: string | null) => {
    const request = { method: c.req.method, path: c.req.path, query: c.req.query(), body };
    const problem = await apiSignatureProblem(request, broadcaster, broadcaster.clock.now());
    if (problem) throw new HttpError(401, "UNAUTHENTICATED", problem);
  };
  const json = (text: string) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpError(400, "INVALID_JSON", "The body is not valid JSON");
    }
  };
  const tooLarge = (data: string) => {
    if (exceedsBytes(data, broadcaster.maxMessageBytes)) throw new HttpError(413, "PAYLOAD_TOO_LARGE", `Event data is larger than ${broadcaster.maxMessageBytes} bytes`);
  };

  post("/apps/:appId/events", async (c) => {
    const text = await c.req.text();
    await signed(c, text);
    const event = validated(TriggerBody, json(text), "body");
    const channels = event.channels ?? (event.channel ? [event.channel] : []);
    if (channels.length === 0) throw new HttpError(400, "VALIDATION_FAILED", "Give channels or channel");
    tooLarge(event.data);
    await broadcaster.publish(channels, event.name, event.data, { exceptSocketId: event.socket_id ?? null });
    return c.json({});
  });

  post("/apps/:appId/batch_events", async (c) => {
    const text = await c.req.text();
    await signed(c, text);
    const { batch } = validated(BatchBody, json(text), "body");
    for (const event of batch) tooLarge(event.data);
    for (const event of batch) await broadcaster.publish(event.channel, event.name, event.data, { exceptSocketId: event.socket_id ?? null });
    return c.json({ batch: batch.map(() => ({})) });
  });

  get("/apps/:appId/channels", async (c) => {
    await signed(c, null);
    const prefix = c.req.query("filter_by_prefix") ?? "";
    const wantUsers = (c.req.query("info") ?? "").split(",").includes("user_count");
    const channels: Record<string, { user_count?: number }> = {};
    for (const name of broadcaster.localChannels().keys()) {
      if (!name.startsWith(prefix)) continue;
      channels[name] = wantUsers && channelKind(name) === "presence" ? { user_count: (await broadcaster.members(name)).length } : {};
    }
    return c.json({ channels });
  });

  get("/apps/:appId/channels/:channel", async (c) => {
    await signed(c, null);
    const channel = validated(ChannelNameSchema, c.req.param("channel"), "path.channel");
    const info = (c.req.query("info") ?? "").split(",");
    const local = broadcaster.localChannels().get(channel) ?? 0;
    const users = channelKind(channel) === "presence" ? (await broadcaster.members(channel)).length : 0;
    return c.json({
      occupied: local > 0 || users > 0,
      ...(info.includes("subscription_count") ? { subscription_count: local } : {}),
      ...(info.includes("user_count") && channelKind(channel) === "presence" ? { user_count: users } : {}),
    });
  });

  get("/apps/:appId/channels/:channel/users", async (c) => {
    await signed(c, null);
    const channel = validated(ChannelNameSchema, c.req.param("channel"), "path.channel");
    if (channelKind(channel) !== "presence") throw new HttpError(400, "VALIDATION_FAILED", "Only presence channels have users");
    return c.json({ users: (await broadcaster.members(channel)).map((m) => ({ id: m.user_id })) });
  });

  return app;
}
