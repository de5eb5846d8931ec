// Cloudflare Workers: serving is `export default { fetch: app.fetch }`. WebSockets are refused:
// a Worker may only touch a socket from the request that opened it, so one request cannot
// fan a message out to sockets other requests hold. That needs a Durable Object owning every
// socket of a channel, which Conveyor does not provide yet.
import type { Context } from "hono";
import type { UpgradeWebSocket } from "hono/ws";
import { body } from "../http/errors.ts";
import { recordClientAddress } from "./client-address.ts";
import type { RuntimeAdapter } from "./contract.ts";

export const WORKERS_WEBSOCKET_REFUSAL = "Broadcasting over WebSockets is not available on Cloudflare Workers: a Worker can only use a socket " +
  "from the request that opened it, so it cannot fan messages out to other clients. Run the broadcaster on Node, Bun or Deno " +
  "(publish to it from the Worker through the Pusher HTTP API).";

export function cloudflareAdapter(): RuntimeAdapter {
  const refuse = ((() => (c: Context) => c.json(body("WEBSOCKET_UNSUPPORTED", WORKERS_WEBSOCKET_REFUSAL), 501)) as unknown) as UpgradeWebSocket;
  return {
    runtime: "cloudflare",
    upgradeWebSocket: refuse,
    onShutdown: () => {}, // no process: an isolate is stopped by the platform
    serve(): never {
      throw new TypeError("On Cloudflare Workers, export the app instead: export default { fetch: app.fetch }");
    },
  };
}

/**
 * Records the client's address for the apps' rate limits: call it on each request before
 * `app.fetch(request)`. A Worker is reached only through Cloudflare's edge, which sets
 * CF-Connecting-IP itself, so the header can be believed here (and nowhere else).
 */
export function recordCloudflareClient(request: Request): void {
  recordClientAddress(request, request.headers.get("cf-connecting-ip"));
}
