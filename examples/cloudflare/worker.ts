// A Cloudflare Worker with Conveyor, as a user writes it: `wrangler deploy` (see wrangler.toml).
// Code runs only while a request or a Cron Trigger is handled, and Workers forbid timers, I/O and
// random values at module scope: so the conveyor is built on first use, the worker does not
// start on its own, and jobs run inside `ctx.waitUntil(conveyor.drain())` after each request.
// Jobs here live in the isolate's memory; a store every invocation shares comes with issue 16.
import * as v from "valibot";
import { type Conveyor, createConveyor, defineJob } from "@conveyorkit/conveyor";
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

let built: { conveyor: Conveyor; app: ReturnType<typeof createApp> } | undefined;

function build(env: Env) {
  const conveyor = createConveyor();
  const emails = conveyor.queue("emails").register(sendEmail);
  conveyor.worker(emails, { autostart: false, concurrency: 10 }).handle(sendEmail, async ({ to }) => ({ sentTo: to }));
  const app = createApp(conveyor, { auth: { secret: env.CONVEYOR_SECRET, issuer: "conveyor-demo", audience: "conveyor" } });
  return { conveyor, app };
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const { conveyor, app } = built ??= build(env);
    recordCloudflareClient(request);
    const response = await app.fetch(request);
    ctx.waitUntil(conveyor.drain());
    return response;
  },
};
