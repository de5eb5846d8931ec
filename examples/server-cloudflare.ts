// The app on Cloudflare Workers (wrangler: main = "examples/server-cloudflare.ts", a Cron Trigger
// "* * * * *"). Code runs only while a request or trigger is handled: timers set in one do not
// fire after it ends. So jobs run inside `ctx.waitUntil(conveyor.drain())` after each request,
// and schedules fire from the Cron Trigger through tick(). Jobs belong in a store every
// invocation shares (the in-memory default lives and dies with one isolate).
import { cloudflareAdapter } from "../src/adapter/cloudflare.ts";
import { demoServer } from "./server-app.ts";

// WebSockets are refused here with the reason (see the adapter); the Pusher HTTP API still answers.
const { upgradeWebSocket } = cloudflareAdapter();

// Built on first use: Workers allow no timers or I/O at global scope.
let ready: ReturnType<typeof demoServer> | undefined;

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

interface Env {
  /** The HS256 secret tokens are signed with (`wrangler secret put CONVEYOR_SECRET`). */
  CONVEYOR_SECRET?: string;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const { app, conveyor } = await (ready ??= demoServer({ secret: env.CONVEYOR_SECRET, edge: true, upgradeWebSocket }));
    const response = await app.fetch(request);
    ctx.waitUntil(conveyor.drain());
    return response;
  },
  async scheduled(controller: { scheduledTime: number }, env: Env, ctx: ExecutionContext): Promise<void> {
    const { conveyor, scheduler } = await (ready ??= demoServer({ secret: env.CONVEYOR_SECRET, edge: true, upgradeWebSocket }));
    ctx.waitUntil(scheduler.tick(controller.scheduledTime).then(() => conveyor.drain()));
  },
};
