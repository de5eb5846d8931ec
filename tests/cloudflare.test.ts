// The Cloudflare Workers example, bundled as wrangler would and run in workerd (through
// miniflare): the app answers, a worker inside the isolate completes a job, and a Cron Trigger
// fires the schedule through tick().
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { build } from "esbuild";
import { SignJWT } from "jose";
import { Miniflare } from "miniflare";
import { runtime } from "./support/runtime.ts";

const SECRET = "a-cloudflare-test-secret-long-enough-for-hs256";

describe(`the Cloudflare Workers example in workerd (driven from ${runtime})`, () => {
  let mf: Miniflare;
  let auth: Record<string, string>;
  before(async () => {
    const bundle = await build({
      entryPoints: ["examples/server-cloudflare.ts"],
      bundle: true,
      format: "esm",
      platform: "browser",
      conditions: ["workerd", "worker", "browser"],
      write: false,
      logLevel: "silent",
    });
    mf = new Miniflare({
      modules: true,
      script: bundle.outputFiles[0]!.text,
      compatibilityDate: "2025-09-01",
      bindings: { CONVEYOR_SECRET: SECRET },
    });
    const token = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("edge")
      .setIssuer("conveyor-demo").setAudience("conveyor").setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
    auth = { authorization: `Bearer ${token}` };
  });
  after(async () => await mf?.dispose());

  test("serves the app and runs a job inside the isolate", async () => {
    assert.equal((await mf.dispatchFetch("http://worker/jobs/queues")).status, 401);
    const added = await mf.dispatchFetch("http://worker/jobs/queues/emails/jobs", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "send-email", payload: { to: "ada@example.com" } }),
    });
    assert.equal(added.status, 201, await added.clone().text());
    const { job } = await added.json() as { job: { id: string; createdBy: string } };
    assert.equal(job.createdBy, "edge");
    let state = "";
    for (let i = 0; i < 200 && state !== "completed"; i++) {
      const res = await mf.dispatchFetch(`http://worker/jobs/queues/emails/jobs/${job.id}`, { headers: auth });
      state = ((await res.json()) as { job: { state: string } }).job.state;
      if (state !== "completed") await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(state, "completed");
  });

  test("WebSockets are refused with the reason; the Pusher HTTP API still answers", async () => {
    const res = await mf.dispatchFetch("http://worker/app/conveyor-demo?protocol=7", { headers: { upgrade: "websocket" } });
    assert.equal(res.status, 501);
    const body = await res.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, "WEBSOCKET_UNSUPPORTED");
    assert.match(body.error.message, /only use a socket from the request that opened it/);
  });

  test("a Cron Trigger fires the schedule's due ticks through tick(), once however often it is delivered", async () => {
    const worker = await mf.getWorker() as unknown as { scheduled(options: { scheduledTime: Date; cron: string }): Promise<unknown> };
    const heartbeats = async () => {
      const list = async (state: string) =>
        ((await (await mf.dispatchFetch(`http://worker/jobs/queues/ops/jobs?state=${state}&limit=100`, { headers: auth })).json()) as { jobs: { id: string }[] }).jobs;
      assert.deepEqual(await list("waiting"), [], "the trigger's drain ran what it enqueued");
      return (await list("completed")).map((j) => j.id).filter((id) => id.startsWith("schedule:heartbeat:")).sort();
    };
    // The demo's schedule runs every 10 s; the trigger comes a minute after the isolate started.
    const scheduledTime = Date.now() + 60_000;
    await worker.scheduled({ scheduledTime: new Date(scheduledTime), cron: "* * * * *" });
    const first = await heartbeats();
    assert.ok(first.length >= 1, "the tick enqueued and ran the heartbeat");
    for (const id of first) assert.ok(Number(id.split(":").pop()) <= scheduledTime, `${id} is not after the trigger's time`);
    await worker.scheduled({ scheduledTime: new Date(scheduledTime), cron: "* * * * *" });
    assert.deepEqual(await heartbeats(), first, "a second delivery of the same trigger enqueues nothing more");
  });
});
