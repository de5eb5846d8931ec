// The demo server's app, the same on every runtime: the embedded memory store, two workers, a
// schedule, rate-limited JWT-protected routes under /jobs, and a token to try them with.
import { Hono } from "hono";
import { SignJWT } from "jose";
import * as v from "valibot";
import type { UpgradeWebSocket } from "hono/ws";
import { createConveyor, defineJob, every, RateLimiter } from "../mod.ts";
import { createApp, createBroadcastApp } from "../http.ts";
import { broadcastCheck, Broadcaster, broadcastJobEvents } from "../broadcast.ts";
import { sendEmail } from "./demo-jobs.ts";

export const heartbeat = defineJob("heartbeat", v.object({ note: v.string() }));

/** The Pusher app the demo's broadcaster answers as (clients: `new Pusher("conveyor-demo", { wsHost, wsPort })`). */
export const PUSHER_APP = { appId: "1", key: "conveyor-demo" };

/**
 * `secret`: the HS256 secret tokens are signed with (@default a fresh random one per start).
 * `edge`: nothing runs on its own timers; the host calls `conveyor.drain()` and `scheduler.tick()`.
 * `upgradeWebSocket`: the runtime adapter's, for the Pusher WebSocket endpoint at /app/:key.
 */
export async function demoServer(options: { secret?: string; edge?: boolean; upgradeWebSocket?: UpgradeWebSocket } = {}) {
  const conveyor = createConveyor();
  const autostart = !options.edge;
  conveyor.worker("emails", { concurrency: 4, autostart }).handle(sendEmail, async ({ to }, ctx) => {
    await ctx.log(`sending to ${to}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { delivered: to };
  });
  conveyor.worker("ops", { autostart }).handle(heartbeat, ({ note }) => ({ ok: note }));
  const scheduler = conveyor.scheduler({ autostart });
  await scheduler.schedule("heartbeat", every(10, "seconds"), { queue: "ops", job: heartbeat, payload: { note: "still here" } });

  // A fresh secret per start unless one is given: the token printed below is the way in.
  const secret = options.secret ?? [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const auth = { secret, issuer: "conveyor-demo", audience: "conveyor" };
  // Broadcasting: job events of "emails" on private channels, presence for any signed-in user.
  const broadcaster = new Broadcaster({
    ...PUSHER_APP,
    secret: secret.slice(0, 32),
    authorize: (user, channel) => {
      if (channel.startsWith("presence-")) return { info: { name: user.subject } };
      return channel.startsWith("private-conveyor.") ? user.scopes.has("admin") || user.scopes.has("jobs:read") : true;
    },
  });
  broadcastJobEvents(broadcaster, conveyor.queue("emails"));
  conveyor.health.register("broadcast", broadcastCheck(broadcaster)); // on /health beside the store
  const app = new Hono();
  app.get("/", (c) => c.text("Conveyor demo: the API is under /jobs (see /jobs/openapi.json); Pusher clients connect to /app/conveyor-demo\n"));
  app.route("/", createBroadcastApp(broadcaster, { auth, upgradeWebSocket: options.upgradeWebSocket }));
  app.route("/jobs", createApp(conveyor, {
    auth,
    scheduler,
    basePath: "/jobs",
    rateLimit: { limiter: new RateLimiter({ rule: { algorithm: "token-bucket", capacity: 100, refillPerSecond: 50 } }) },
  }));
  const token = await new SignJWT({ scope: "admin" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("demo")
    .setIssuer(auth.issuer)
    .setAudience(auth.audience)
    .setExpirationTime("12h")
    .sign(new TextEncoder().encode(secret));
  return { app, conveyor, scheduler, broadcaster, token };
}

/** What every runtime's server prints once it listens. */
export function announce(port: number, token: string): void {
  const url = `http://127.0.0.1:${port}/jobs`;
  console.log(`Conveyor demo listening on ${url}`);
  console.log(`token: ${token}`);
  console.log("try:");
  console.log(`  export TOKEN=${token}`);
  console.log(`  curl -s -H "Authorization: Bearer $TOKEN" ${url}/queues`);
  console.log(`  curl -s -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\`);
  console.log(`    -d '{"name":"send-email","payload":{"to":"ada@example.com"}}' ${url}/queues/emails/jobs`);
  console.log(`  curl -s -H "Authorization: Bearer $TOKEN" "${url}/health?format=text"    # or: conveyor health --url ${url} --token $TOKEN`);
  console.log(`  curl -sN -H "Authorization: Bearer $TOKEN" ${url}/queues/emails/events`);
  console.log(`broadcasting (Pusher protocol 7): new Pusher("${PUSHER_APP.key}", { wsHost: "127.0.0.1", wsPort: ${port}, forceTLS: false,`);
  console.log(`  channelAuthorization: { endpoint: "http://127.0.0.1:${port}/broadcasting/auth", headers: { Authorization: "Bearer <token>" } } })`);
  console.log(`  job events of "emails" arrive on private-conveyor.queue.emails as job.enqueued, job.active, job.completed …`);
}
