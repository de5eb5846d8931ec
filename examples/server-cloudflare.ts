// The app on Cloudflare Workers (wrangler: main = "examples/server-cloudflare.ts", a Cron Trigger
// "* * * * *"). A Worker lives per request, so schedules fire from the Cron Trigger through
// tick(), and jobs belong in a store every invocation shares (the in-memory default is per isolate).
import { demoServer } from "./server-app.ts";

// Built on first use: Workers allow no timers or I/O at global scope.
let ready: ReturnType<typeof demoServer> | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    return (await (ready ??= demoServer())).app.fetch(request);
  },
  async scheduled(controller: { scheduledTime: number }, _env: unknown, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<void> {
    const { conveyor } = await (ready ??= demoServer());
    ctx.waitUntil(conveyor.scheduler({ autostart: false }).tick(controller.scheduledTime));
  },
};
