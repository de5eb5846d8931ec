// `conveyor health`: against an app in this process (its fetch is the app's), then as a real
// process against a real server on this runtime. Exit codes: 0 ok, 3 degraded, 1 down or no
// answer, 2 used wrongly.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { describe, test } from "node:test";
import { Hono } from "hono";
import { createConveyor } from "../mod.ts";
import { createApp } from "../http.ts";
import { runCli } from "../src/cli/main.ts";
import { currentAdapter } from "./support/adapter.ts";
import { freePort } from "./support/redis-server.ts";
import { runtime, scriptCommand } from "./support/runtime.ts";

const SECRET = "a-cli-test-secret-that-is-long-enough-for-hs256";

async function cli(argv: string[], options: { env?: Record<string, string>; fetch?: (url: string, init: RequestInit) => Promise<Response> } = {}) {
  let out = "";
  let err = "";
  const code = await runCli(argv, { env: options.env ?? {}, out: (t) => out += `${t}\n`, err: (t) => err += `${t}\n`, fetch: options.fetch });
  return { code, out, err };
}

async function mint(scopes: string): Promise<string> {
  return (await cli(["token", "--scopes", scopes, "--secret", SECRET])).out.trim();
}

/** A conveyor and its app mounted at /jobs in a host app, as the demo server has it. */
function server() {
  const conveyor = createConveyor({ health: { statsFlushMs: false } });
  conveyor.queue("emails");
  conveyor.queue("reports");
  const host = new Hono();
  host.route("/jobs", createApp(conveyor, { auth: { secret: SECRET } }));
  const fetch = (url: string, init: RequestInit) => Promise.resolve(host.request(url, init));
  return { conveyor, host, fetch };
}

describe("conveyor health", () => {
  test("against an app: text, JSON, one queue, and an exit code per status", async () => {
    const { conveyor, fetch } = server();
    const token = await mint("ops:read");
    const env = { CONVEYOR_URL: "http://app.test/jobs", CONVEYOR_TOKEN: token };
    const ok = await cli(["health"], { env, fetch });
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^status: ok at /);
    assert.match(ok.out, /\n {2}store +ok +\d+ ms {2}a record read answered\n/);
    assert.match(ok.out, /\nqueue emails: waiting 0/);
    assert.match(ok.out, /\nqueue reports: /);

    const json = await cli(["health", "--json", "--queue", "reports"], { env, fetch });
    assert.equal(json.code, 0);
    const doc = JSON.parse(json.out);
    assert.equal(doc.status, "ok");
    assert.deepEqual(doc.queues.map((q: { name: string }) => q.name), ["reports"]);

    const removeCache = conveyor.health.register("cache", () => ({ status: "down", message: "cold" }), { critical: false });
    const degraded = await cli(["health", "--url=http://app.test/jobs/health"], { env: { CONVEYOR_TOKEN: token }, fetch });
    assert.equal(degraded.code, 3, "degraded");
    assert.match(degraded.out, /^status: degraded/);
    assert.match(degraded.out, /cache +down .*\(not critical\) {2}cold/);
    removeCache();
    conveyor.health.register("payments", () => false);
    const down = await cli(["health", "--json"], { env, fetch });
    assert.equal(down.code, 1, "down (the server answered 503)");
    assert.equal(JSON.parse(down.out).checks.payments.status, "down");
    await conveyor.close();
  });

  test("used wrongly: exit 2 and what to fix; no server: exit 1", async () => {
    const { conveyor, fetch } = server();
    const token = await mint("ops:read");
    const withToken = { CONVEYOR_TOKEN: token };
    const expect = async (argv: string[], code: number, message: RegExp, env: Record<string, string> = withToken) => {
      const result = await cli(argv, { env, fetch });
      assert.equal(result.code, code, `${argv.join(" ")}: ${result.err}`);
      assert.match(result.err, message);
    };
    await expect(["health"], 2, /needs the server's URL: --url/);
    await expect(["health", "--url", "ftp://app.test"], 2, /http:\/\/ or https:\/\/ URL/);
    await expect(["health", "--url", "not a url"], 2, /http:\/\/ or https:\/\/ URL/);
    await expect(["health", "--url", "http://app.test/jobs", "--queue", "a b"], 2, /--queue expects a queue name/);
    await expect(["health", "--url", "http://app.test/jobs", "--queue", "nope"], 2, /answered 404 QUEUE_NOT_FOUND/);
    await expect(["health", "--url", "http://app.test/jobs"], 2, /answered 401 UNAUTHENTICATED/, {});
    await expect(["health", "--url", "http://app.test/jobs"], 2, /answered 403 FORBIDDEN/, { CONVEYOR_TOKEN: await mint("jobs:read") });
    await expect(["health", "--url", "http://app.test/elsewhere"], 2, /answered 404/);
    await expect(["health", "--json=yes"], 2, /--json takes no value/);
    await expect(["health", "--secret", "x"], 2, /unknown argument "--secret"/);
    const help = await cli(["health", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /Exit codes: 0 ok, 3 degraded, 1 down/);
    assert.match((await cli(["help"])).out, /health +ask a running server's \/health/);
    const port = await freePort(); // nothing listens there
    const unreachable = await cli(["health", "--url", `http://127.0.0.1:${port}/jobs`]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.err, /no answer from http:\/\/127\.0\.0\.1:\d+\/jobs\/health/);
    await conveyor.close();
  });

  test(`runs as a real process on ${runtime} against a real server`, async () => {
    const { conveyor, host } = server();
    const served = await (await currentAdapter()).serve(host, { port: 0 });
    const env = { ...process.env, CONVEYOR_URL: `http://127.0.0.1:${served.port}/jobs`, CONVEYOR_TOKEN: await mint("ops:read") };
    // Not spawnSync: this process serves the requests the command makes.
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const [command, base] = scriptCommand("cli.ts");
        const child = spawn(command, [...base, "health", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "", stderr = "";
        child.stdout!.on("data", (chunk) => stdout += chunk);
        child.stderr!.on("data", (chunk) => stderr += chunk);
        child.once("close", (code) => resolve({ code, stdout, stderr }));
      });
    try {
      const ok = await run([]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^status: ok at /);
      conveyor.health.register("payments", () => ({ status: "down", message: "gateway unreachable" }));
      const down = await run(["--json", "--queue", "emails"]);
      assert.equal(down.code, 1, down.stderr);
      const doc = JSON.parse(down.stdout);
      assert.equal(doc.checks.payments.message, "gateway unreachable");
      assert.deepEqual(doc.queues.map((q: { name: string }) => q.name), ["emails"]);
      const wrong = await run(["--queue", "nope"]);
      assert.equal(wrong.code, 2);
    } finally {
      await served.close();
      await conveyor.close();
    }
  });
});
