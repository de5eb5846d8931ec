// examples/deno-deploy/main.ts run as Deno runs it (whatever runtime runs this file): Deno KV on a
// local file, --unstable-kv --unstable-cron, only the permissions it documents. A job enqueued
// over HTTP completes and its events reach a pusher-js client on the same Deno.serve; the
// schedule Deno.cron ticks is stored; the jobs are in the KV file; SIGTERM stops it cleanly.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { SignJWT } from "jose";
import Pusher from "pusher-js";
import { pusherOptions } from "./support/broadcast-server.ts";
import { runtime } from "./support/runtime.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const SECRET = "a-deno-deploy-test-secret-that-is-long-enough";

test(`the Deno Deploy example (run by deno from ${runtime}): HTTP enqueue → KV → worker → completed and broadcast`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-deno-deploy-"));
  const kvPath = join(dir, "kv.sqlite3");
  const child = spawn(`${root}node_modules/.bin/deno`, [
    "run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--unstable-kv", "--unstable-cron", "examples/deno-deploy/main.ts",
  ], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", PORT: "0", KV_PATH: kvPath, CONVEYOR_SECRET: SECRET } });
  let output = "";
  child.stdout!.on("data", (chunk) => output += chunk);
  child.stderr!.on("data", (chunk) => output += chunk);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const started = Date.now();
    while (!/listening on (\S+)/.test(output)) {
      if (Date.now() - started > 60_000 || child.exitCode !== null) throw new Error(`the example did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const url = output.match(/listening on (\S+)/)![1]!;
    const token = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("test")
      .setIssuer("conveyor-deno-deploy").setAudience("conveyor").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
    const auth = { authorization: `Bearer ${token}` };

    const pusher = new Pusher("conveyor-deploy", pusherOptions(Number(new URL(url).port), token));
    const channel = pusher.subscribe("private-conveyor.queue.greetings");
    await new Promise((resolve, reject) => {
      channel.bind("pusher:subscription_succeeded", resolve);
      channel.bind("pusher:subscription_error", reject);
    });
    const completedEvent = new Promise<{ jobId: string }>((resolve) => channel.bind("job.completed", resolve));

    const added = await fetch(`${url}/jobs/queues/greetings/jobs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "greet", payload: { name: "Ada" } }),
    });
    assert.equal(added.status, 201, await added.clone().text());
    const { job } = await added.json() as { job: { id: string } };
    let found = { state: "", result: null as unknown };
    for (let i = 0; i < 600 && found.state !== "completed"; i++) {
      found = ((await (await fetch(`${url}/jobs/queues/greetings/jobs/${job.id}`, { headers: auth })).json()) as { job: typeof found }).job;
      if (found.state !== "completed") await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(found.state, "completed", output);
    assert.deepEqual(found.result, { greeting: "Hello, Ada!" });
    assert.equal((await completedEvent).jobId, job.id, "broadcast to the queue's channel");
    pusher.disconnect();

    const schedules = await (await fetch(`${url}/jobs/schedules`, { headers: auth })).json() as { schedules: { id: string }[] };
    assert.deepEqual(schedules.schedules.map((s) => s.id), ["heartbeat"], "the schedule Deno.cron ticks");
    assert.equal((await fetch(`${url}/jobs/queues`)).status, 401, "no token, no entry");
    assert.ok(statSync(kvPath).size > 0, "the jobs live in the KV file");

    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    assert.match(output, /^stopped$/m, output);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
