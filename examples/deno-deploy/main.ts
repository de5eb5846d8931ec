// Conveyor on Deno Deploy: jobs in Deno KV (shared by every isolate of the deployment), workers
// woken through kv.watch, schedules fired by Deno.cron through scheduler.tick(), and one
// Deno.serve answering the HTTP API and the Pusher-protocol WebSockets.
//
//   deno run --allow-net --allow-env --allow-read --allow-write --unstable-kv --unstable-cron examples/deno-deploy/main.ts
//   (deployed: `deployctl deploy --entrypoint=examples/deno-deploy/main.ts`, CONVEYOR_SECRET set)
//
// Settings from the environment: CONVEYOR_SECRET (the HS256 secret of tokens; required),
// KV_PATH (a local database file; left out, Deno.openKv() opens the deployment's), PORT
// (local only; 0 picks a free one), WEBHOOK_SECRET (a whsec_ secret for the webhook job).
// In a project of your own, import "jsr:@conveyorkit/conveyor", "…/deno-kv", "…/http",
// "…/broadcast", "…/jobs" and "…/adapter/deno" in place of these relative paths.
import { Hono } from "hono";
import * as v from "valibot";
import { createConveyor, defineJob, every } from "../../mod.ts";
import { DenoKvStore, type DenoKv } from "../../deno-kv.ts";
import { createApp, createBroadcastApp } from "../../http.ts";
import { Broadcaster, broadcastJobEvents } from "../../broadcast.ts";
import { webhookJob } from "../../jobs.ts";
import { denoAdapter } from "../../src/adapter/deno.ts";
import { denoResolver } from "../../src/adapter/deno-system.ts";

declare const Deno: {
  env: { get(name: string): string | undefined };
  openKv(path?: string): Promise<DenoKv & { close(): void }>;
  cron(name: string, schedule: string, handler: () => Promise<void>): Promise<void>;
};

const secret = Deno.env.get("CONVEYOR_SECRET");
if (!secret || secret.length < 32) throw new Error("Set CONVEYOR_SECRET to at least 32 characters: tokens are checked with it");

export const greet = defineJob("greet", v.object({ name: v.pipe(v.string(), v.maxLength(100)) }), { attempts: 3 });
export const heartbeat = defineJob("heartbeat", v.object({ note: v.string() }));

// One database for the deployment. `watch: true`: kv.watch tells this isolate at once of jobs
// other isolates enqueue (the event log is also polled, every pollMs, as a fallback).
const kv = await Deno.openKv(Deno.env.get("KV_PATH"));
const conveyor = createConveyor({ store: new DenoKvStore({ kv, watch: true }) });
const greetings = conveyor.queue("greetings");
conveyor.worker(greetings, { concurrency: 4 }).handle(greet, async ({ name }, ctx) => {
  await ctx.log(`greeting ${name}`);
  return { greeting: `Hello, ${name}!` };
});
conveyor.worker("ops").handle(heartbeat, ({ note }) => ({ ok: note }));
// The ready-made webhook job, with Deno's resolver so a name pointing inside is refused too.
webhookJob({ resolve: denoResolver(), redactor: conveyor.redactor, ...(Deno.env.get("WEBHOOK_SECRET") ? { secret: Deno.env.get("WEBHOOK_SECRET") } : {}) })
  .register(conveyor.worker("webhooks", { concurrency: 8 }));

// No scheduler timers: an isolate may be stopped between requests, and Deno.cron (registered at
// start, as Deploy requires) calls tick() every minute, which fires each schedule once however
// many isolates run it. A tick that comes late still fires its due runs.
const scheduler = conveyor.scheduler({ autostart: false });
await scheduler.schedule("heartbeat", every(1, "minutes"), { queue: "ops", job: heartbeat, payload: { note: "still here" } });
// Not awaited: its promise settles only when the cron is stopped.
void Deno.cron("conveyor-scheduler", "* * * * *", async () => {
  const fired = await scheduler.tick();
  console.log(`cron: ${fired.length} job(s) enqueued`);
});

// Broadcasting: job events of "greetings" on its private channel. Each isolate serves its own
// sockets; job events reach every isolate through the store, so each client hears them.
const auth = { secret, issuer: "conveyor-deno-deploy", audience: "conveyor" };
const broadcaster = new Broadcaster({
  appId: "1",
  key: "conveyor-deploy",
  secret: secret.slice(0, 32),
  authorize: (user, channel) => channel.startsWith("private-conveyor.") ? user.scopes.has("admin") || user.scopes.has("jobs:read") : true,
});
broadcastJobEvents(broadcaster, greetings);

const adapter = denoAdapter();
const app = new Hono();
app.route("/", createBroadcastApp(broadcaster, { auth, upgradeWebSocket: adapter.upgradeWebSocket }));
app.route("/jobs", createApp(conveyor, { auth, scheduler, basePath: "/jobs" }));

const served = await adapter.serve(app, { port: Number(Deno.env.get("PORT") ?? 8000), hostname: "0.0.0.0" });
console.log(`Conveyor on Deno listening on http://127.0.0.1:${served.port}`);
adapter.onShutdown(async () => {
  await served.close();
  await conveyor.close({ timeoutMs: 10_000 });
  await broadcaster.close();
  kv.close();
  console.log("stopped");
});
