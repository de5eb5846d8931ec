// A Cloudflare Worker with Conveyor, as a user writes it: `wrangler deploy` (see wrangler.toml).
// Code runs only while a request or a Cron Trigger is handled, and Workers forbid timers, I/O and
// random values at module scope: so the worker does not start on its own, and jobs run inside
// `ctx.waitUntil(conveyor.drain())` after each request.
// Jobs here live in the isolate's memory; a store every invocation shares comes with issue 16.
import * as v from "valibot";
import { createConveyor, defineJob } from "@conveyorkit/conveyor";
import { createApp } from "@conveyorkit/conveyor/http";
import { recordCloudflareClient } from "@conveyorkit/conveyor/adapter/cloudflare";

interface Env {
  /** The HS256 secret API tokens are signed with: `wrangler secret put CONVEYOR_SECRET`. */
  CONVEYOR_SECRET?: string;
}

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

export const sendEmail = defineJob("send-email", v.object({ to: v.pipe(v.string(), v.email()) }), { attempts: 3 });

// Built at module scope, as apps do: nothing here draws random values, sets timers or does I/O.
// Only the secret waits for the first request (Workers pass bindings to the handlers).
const conveyor = createConveyor();
const emails = conveyor.queue("emails").register(sendEmail);
conveyor.worker(emails, { autostart: false, concurrency: 10 }).handle(sendEmail, async ({ to }) => ({ sentTo: to }));
let app: ReturnType<typeof createApp> | undefined;

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    app ??= createApp(conveyor, { auth: { secret: env.CONVEYOR_SECRET, issuer: "conveyor-demo", audience: "conveyor" } });
    recordCloudflareClient(request);
    const response = await app.fetch(request);
    ctx.waitUntil(conveyor.drain());
    return response;
  },
};
