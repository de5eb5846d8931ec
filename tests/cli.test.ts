// The `conveyor` command: usage errors say what is wrong (exit 2); a minted token opens the HTTP
// app with exactly its scopes; the command runs as a real process on this runtime.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { describe, test } from "node:test";
import { createConveyor, FakeClock } from "../mod.ts";
import { createApp } from "../http.ts";
import { runCli } from "../src/cli/main.ts";
import { runtime, scriptCommand } from "./support/runtime.ts";

const SECRET = "a-cli-test-secret-that-is-long-enough-for-hs256";

async function cli(argv: string[], env: Record<string, string> = {}, clock?: FakeClock) {
  let out = "";
  let err = "";
  const code = await runCli(argv, { env, out: (t) => out += `${t}\n`, err: (t) => err += `${t}\n`, clock });
  return { code, out, err };
}

describe("conveyor token", () => {
  test("usage errors exit 2 and say what to fix", async () => {
    const noSecret = await cli(["token", "--scopes", "admin"]);
    assert.equal(noSecret.code, 2);
    assert.match(noSecret.err, /--secret <secret>, or set CONVEYOR_AUTH_SECRET/);
    const badScope = await cli(["token", "--scopes", "jobs:delete", "--secret", SECRET]);
    assert.equal(badScope.code, 2);
    assert.match(badScope.err, /admin, jobs:read, jobs:write, schedules:read, schedules:write, ops:read/);
    assert.match((await cli(["token", "--scopes", "admin", "--secret", "short"])).err, /at least 32 characters/);
    assert.match((await cli(["token", "--scopes", "admin", "--secret", SECRET, "--expires", "soon"])).err, /30m, 1h or 7d/);
    assert.match((await cli(["token", "--bogus"])).err, /unknown argument "--bogus"/);
    assert.match((await cli(["token", "--scopes"])).err, /--scopes needs a value/);
    assert.equal((await cli(["frobnicate"])).code, 2);
    const help = await cli(["token", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /TOKEN=\$\(conveyor token --scopes admin\)/);
  });

  test("a minted token opens the app with exactly its scopes, until it expires", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock });
    conveyor.queue("emails");
    conveyor.queue("reports");
    const app = createApp(conveyor, { auth: { secret: SECRET, issuer: "iss", audience: "aud" } });
    const minted = await cli(
      ["token", "--scopes=jobs:read:emails", "--subject", "ada", "--expires", "30m", "--issuer", "iss", "--audience", "aud"],
      { CONVEYOR_AUTH_SECRET: SECRET },
      clock,
    );
    assert.equal(minted.code, 0, minted.err);
    const token = minted.out.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, "only the token on stdout");
    const get = (path: string) => app.request(path, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get("/queues/emails/jobs?state=waiting")).status, 200);
    assert.equal((await get("/queues/reports/jobs?state=waiting")).status, 403);
    await clock.advance(31 * 60_000);
    assert.equal((await get("/queues/emails/jobs?state=waiting")).status, 401, "expired after 30 minutes of the app's clock");
    await conveyor.close();
  });

  test(`runs as a real process on ${runtime}`, () => {
    const [command, args] = scriptCommand("cli.ts");
    const ok = spawnSync(command, [...args, "token", "--scopes", "admin"], { encoding: "utf8", env: { ...process.env, CONVEYOR_AUTH_SECRET: SECRET } });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim().split(".").length, 3);
    const bad = spawnSync(command, [...args, "token"], { encoding: "utf8", env: { ...process.env, CONVEYOR_AUTH_SECRET: "" } });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /CONVEYOR_AUTH_SECRET/);
  });
});
