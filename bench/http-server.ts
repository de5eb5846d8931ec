// One server for bench/http.ts, in its own process so the load generator does not share its CPU.
//   VARIANT=full   the app with HS256 JWT auth and valibot validation of every request
//   VARIANT=audited  the same with the audit log on (every enqueue an entry, batched into the store)
//   VARIANT=open   the same app with auth: false (validation still on: it cannot be turned off)
//   VARIANT=bare   a hand-written Hono route calling queue.add: no auth, no request validation
import process from "node:process";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";
import { createApp } from "../http.ts";

export const SECRET = "bench-secret-that-is-long-enough-for-hs256!";
const email = defineJob("email", v.object({ to: v.pipe(v.string(), v.email()), subject: v.string() }));
const variant = process.env.VARIANT ?? "full";
const conveyor = createConveyor({ audit: variant === "audited" });
const queue = conveyor.queue("emails").register(email);
console.warn = () => {};

let app: Hono;
if (variant === "bare") {
  app = new Hono().post("/queues/:queue/jobs", async (c) => {
    const body = await c.req.json() as { payload: { to: string; subject: string } };
    return c.json({ job: await queue.add(email, body.payload) }, 201);
  });
} else {
  const authed = variant === "full" || variant === "audited";
  app = createApp(conveyor, authed ? { auth: { secret: SECRET, audience: "conveyor" } } : { auth: false }) as unknown as Hono;
}
serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => console.log(`listening ${info.port}`));
