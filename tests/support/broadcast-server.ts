// A broadcasting server on loopback for tests: the broadcast app on the current runtime's adapter.
import { Hono } from "hono";
import { SignJWT } from "jose";
import { Broadcaster, type BroadcasterOptions } from "../../src/broadcast/broadcaster.ts";
import { createBroadcastApp } from "../../src/http/broadcast-app.ts";
import { currentAdapter } from "./adapter.ts";

export const APP = { appId: "4242", key: "test-key", secret: "test-app-secret-0123456789" };
export const JWT_SECRET = "the-jwt-secret-for-channel-auth-tests!!";

export async function userToken(sub: string): Promise<string> {
  return await new SignJWT({ scope: "" }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("5m")
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** Alice and Bob may join everything but `private-secret`; presence info is their name. */
export const authorize: BroadcasterOptions["authorize"] = (user, channel) => {
  if (channel === "private-secret") return false;
  if (channel.startsWith("presence-")) return { info: { name: user.subject } };
  return true;
};

export async function startBroadcastServer(options: Partial<BroadcasterOptions> = {}, port = 0) {
  const adapter = await currentAdapter();
  const broadcaster = new Broadcaster({ ...APP, authorize, ...options });
  await broadcaster.ready();
  const host = new Hono();
  host.route("/", createBroadcastApp(broadcaster, { auth: { secret: JWT_SECRET }, upgradeWebSocket: adapter.upgradeWebSocket }));
  const served = await adapter.serve(host, { port });
  return {
    broadcaster,
    port: served.port,
    url: `http://127.0.0.1:${served.port}`,
    async close() {
      await broadcaster.close();
      await served.close();
    },
  };
}

type RawSocket = {
  send(text: string): void;
  close(): void;
  readyState: number;
  addEventListener(type: string, listener: (event: { data?: unknown; code?: number }) => void): void;
};

/** A bare WebSocket client that records every frame, for what pusher-js would never send. */
export async function rawClient(port: number, path = `/app/${APP.key}?protocol=7`) {
  const WebSocketClass = (globalThis as { WebSocket?: new (url: string) => RawSocket }).WebSocket ?? (await import("ws")).WebSocket as unknown as new (url: string) => RawSocket;
  const socket = new WebSocketClass(`ws://127.0.0.1:${port}${path}`);
  const frames: { event: string; channel?: string; data: any; user_id?: string }[] = [];
  let closeCode: number | null = null;
  socket.addEventListener("message", (event) => frames.push(JSON.parse(String(event.data))));
  socket.addEventListener("close", (event) => closeCode = event.code ?? null);
  const waitFor = async (check: () => boolean, what: string, timeoutMs = 5_000) => {
    const started = Date.now();
    while (!check()) {
      if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const next = async (event: string, from = 0) => {
    await waitFor(() => frames.slice(from).some((f) => f.event === event), event);
    return frames.slice(from).find((f) => f.event === event)!;
  };
  return {
    frames,
    get closeCode() {
      return closeCode;
    },
    send: (value: unknown) => socket.send(typeof value === "string" ? value : JSON.stringify(value)),
    close: () => socket.close(),
    next,
    waitFor,
    async socketId(): Promise<string> {
      const established = await next("pusher:connection_established");
      return JSON.parse(established.data).socket_id;
    },
  };
}

/** pusher-js settings for a Conveyor server on loopback, authorising channels with `token`. */
export function pusherOptions(port: number, token: string | null) {
  return {
    cluster: "local",
    wsHost: "127.0.0.1",
    wsPort: port,
    forceTLS: false,
    enabledTransports: ["ws" as const],
    disableStats: true,
    channelAuthorization: {
      endpoint: `http://127.0.0.1:${port}/broadcasting/auth`,
      transport: "ajax" as const,
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    },
  };
}

type Bindable<T> = { bind(event: string, fn: (data: T) => void): unknown; unbind(event: string, fn: (data: T) => void): unknown };

/** Resolves with the first `event` on a pusher-js channel or connection; rejects after a while. */
export function once<T = any>(target: Bindable<T>, event: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    const handler = (data: T) => {
      clearTimeout(timer);
      target.unbind(event, handler);
      resolve(data);
    };
    target.bind(event, handler);
  });
}

export const subscribed = (channel: Bindable<any>) => once(channel, "pusher:subscription_succeeded");
