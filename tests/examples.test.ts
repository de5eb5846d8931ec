import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import Pusher from "pusher-js";
import { pusherOptions } from "./support/broadcast-server.ts";
import { runtime, scriptCommand } from "./support/runtime.ts";

function run(script: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const [command, args] = scriptCommand(script);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let output = "";
    child.stdout.on("data", (chunk) => output += chunk);
    child.stderr.on("data", (chunk) => output += chunk);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not finish in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test(`the demo runs to completion on ${runtime}`, async () => {
  const { code, output } = await run("examples/demo.ts", 60_000);
  assert.equal(code, 0, output);
  assert.match(output, /All settled in [\d.]+ s: 301 completed, 3 in the dead-letter store/);
  assert.match(output, /slow-export: attempts-exhausted after 2 attempt\(s\) — JOB_TIMEOUT/);
  assert.match(output, /poison-message: unrecoverable after 1 attempt\(s\)/);
  assert.match(output, /flaky-webhook retry 3/);
});

const SERVER = { node: "examples/server-node.ts", deno: "examples/server-deno.ts", bun: "examples/server-bun.ts" }[runtime];

test(`the demo server serves the app over real HTTP on ${runtime}, with the token it prints`, async () => {
  const [command, args] = scriptCommand(SERVER);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORT: "0", NO_COLOR: "1" } });
  let output = "";
  child.stdout.on("data", (chunk) => output += chunk);
  child.stderr.on("data", (chunk) => output += chunk);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const started = Date.now();
    while (!/token: \S+/.test(output)) {
      if (Date.now() - started > 30_000 || child.exitCode !== null) throw new Error(`the server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const url = output.match(/listening on (\S+)/)![1]!;
    const token = output.match(/token: (\S+)/)![1]!;
    const auth = { authorization: `Bearer ${token}` };
    // A pusher-js client on the demo's broadcasting endpoint hears the job's events.
    const port = Number(new URL(url).port);
    const pusher = new Pusher("conveyor-demo", pusherOptions(port, token));
    const channel = pusher.subscribe("private-conveyor.queue.emails");
    await new Promise((resolve, reject) => {
      channel.bind("pusher:subscription_succeeded", resolve);
      channel.bind("pusher:subscription_error", reject);
    });
    const completedEvent = new Promise<{ jobId: string }>((resolve) => channel.bind("job.completed", resolve));
    const added = await fetch(`${url}/queues/emails/jobs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "send-email", payload: { to: "ada@example.com" } }),
    });
    assert.equal(added.status, 201, await added.clone().text());
    const { job } = await added.json() as { job: { id: string } };
    let state = "";
    for (let i = 0; i < 200 && state !== "completed"; i++) {
      state = ((await (await fetch(`${url}/queues/emails/jobs/${job.id}`, { headers: auth })).json()) as { job: { state: string } }).job.state;
      if (state !== "completed") await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(state, "completed", "the server's worker ran it");
    assert.equal((await completedEvent).jobId, job.id, "broadcast to the queue's channel");
    pusher.disconnect();
    assert.equal((await fetch(`${url}/queues`)).status, 401, "no token, no entry");
    const bad = await fetch(`${url}/queues/emails/jobs`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{oops" });
    assert.deepEqual([bad.status, ((await bad.json()) as { error: { code: string } }).error.code], [400, "INVALID_JSON"]);
    const schedules = await (await fetch(`${url}/schedules`, { headers: auth })).json() as { schedules: { id: string }[] };
    assert.deepEqual(schedules.schedules.map((s) => s.id), ["heartbeat"]);
    assert.equal((await fetch(`${url}/openapi.json`)).status, 200);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
});

test(`the demo server stops on SIGTERM and on SIGINT with exit code 0, a job in flight, on ${runtime}`, async () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    const [command, args] = scriptCommand(SERVER);
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORT: "0", NO_COLOR: "1" } });
    let output = "";
    child.stdout.on("data", (chunk) => output += chunk);
    child.stderr.on("data", (chunk) => output += chunk);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const started = Date.now();
      while (!/token: \S+/.test(output)) {
        if (Date.now() - started > 30_000 || child.exitCode !== null) throw new Error(`the server did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const url = output.match(/listening on (\S+)/)![1]!;
      const token = output.match(/token: (\S+)/)![1]!;
      const added = await fetch(`${url}/queues/emails/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "send-email", payload: { to: "ada@example.com" } }),
      });
      assert.equal(added.status, 201);
      child.kill(signal);
      const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 25_000))]);
      assert.match(output, /^stopped$/m, `${signal}: ${output}`);
      // Deno's node:child_process reports a child that handled the signal and exited 0 as killed
      // by it (code null): the "stopped" line, printed after the cleanup, is the proof there.
      if (runtime !== "deno") assert.equal(code, 0, `${signal}: ${output}`);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    }
  }
});
