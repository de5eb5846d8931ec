// The package as a user installs it: packed, installed into an empty project, then the README's
// Quick start run verbatim on this runtime. Under Node also: require(), a strict Node-only type
// check, the core bundle's weight, a missing peer's message, and the Workers example bundled
// (esbuild and wrangler, no alias or compat flag) and run in workerd.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { before, describe, test } from "node:test";
import { consumerProject, quickStart } from "./support/consumer-project.ts";
import { runtime } from "./support/runtime.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PKG = "@conveyorkit/conveyor";
const bin = (name: string) => join(ROOT, "node_modules/.bin", name);

function run(command: string, args: string[], cwd: string, timeoutMs = 120_000) {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: timeoutMs, env: { ...process.env, NO_COLOR: "1", WRANGLER_SEND_METRICS: "false" } });
  // Deno colours console.log even when piped, whatever NO_COLOR says: compare plain text.
  const out = `${result.stdout ?? ""}${result.stderr ?? ""}`.replace(/\x1b\[[0-9;]*m/g, "");
  return { code: result.status, out };
}

describe(`the packed package, installed in an empty project (${runtime})`, () => {
  let project = "";
  before(() => {
    project = consumerProject();
  });

  test("the README's Quick start, pasted as is, prints its result and exits", () => {
    const file = runtime === "node" ? "quickstart.mjs" : "quickstart.ts";
    writeFileSync(join(project, file), quickStart());
    const args = runtime === "deno" ? ["run", "-A", file] : [file];
    const { code, out } = run(process.execPath, args, project, 60_000);
    assert.equal(code, 0, out);
    assert.match(out, /^done: \{\s*sentAt: \d+,?\s*\}$/m);
  });

  if (runtime === "deno") {
    test("a fresh clone runs a script importing mod.ts with no npm install (deno.json's import map)", () => {
      const clone = join(project, "fresh-clone");
      const files = spawnSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).stdout.split("\n").filter(Boolean);
      for (const file of files) cpSync(join(ROOT, file), join(clone, file), { recursive: true });
      writeFileSync(join(clone, "try.ts"), 'import { createConveyor } from "./mod.ts";\nconst c = createConveyor();\nconsole.log(typeof c.queue);\nawait c.close();\n');
      // The repo's package.json makes Deno read node_modules/ by default; this flag says not to.
      const { code, out } = run(process.execPath, ["run", "-A", "--node-modules-dir=none", "try.ts"], clone, 120_000);
      assert.equal(code, 0, out);
      assert.match(out, /^function$/m);
    });
  }

  if (runtime !== "node") return;

  test("require() loads it on Node ≥ 20.19, or says it is an ES module", () => {
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
    const { code, out } = run(process.execPath, ["-e", `const c = require("${PKG}"); console.log(typeof c.createConveyor)`], project);
    if (major > 20 || (major === 20 && minor >= 19)) {
      assert.equal(code, 0, out);
      assert.match(out, /function/);
    } else {
      assert.notEqual(code, 0);
      assert.match(out, /ERR_REQUIRE_ESM|ES Module|ES module/);
    }
  });

  test("the conveyor command is installed and mints a token", () => {
    const secret = "a-consumer-secret-that-is-long-enough-for-hs256";
    const { code, out } = run(join(project, "node_modules/.bin/conveyor"), ["token", "--scopes", "admin", "--secret", secret], project);
    assert.equal(code, 0, out);
    assert.match(out.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  test("deno publish --dry-run accepts the JSR package (no slow types, a license, every import mapped)", () => {
    const { code, out } = run(bin("deno"), ["publish", "--dry-run", "--allow-dirty"], ROOT, 180_000);
    assert.equal(code, 0, out);
    assert.match(out, /Success/);
  });

  test("its types check in a strict Node-only project (no DOM lib, no skipLibCheck)", () => {
    writeFileSync(join(project, "check.ts"), [
      `import { createConveyor, defineJob, FakeClock, type Job } from "${PKG}";`,
      `import { RedisStore } from "${PKG}/redis";`,
      `import { DenoKvStore } from "${PKG}/deno-kv";`,
      `import { UnstorageStore } from "${PKG}/unstorage";`,
      `import { createApp, createBroadcastApp } from "${PKG}/http";`,
      `import { Broadcaster } from "${PKG}/broadcast";`,
      `import { recordCloudflareClient } from "${PKG}/adapter/cloudflare";`,
      `export const used = [createConveyor, defineJob, FakeClock, RedisStore, DenoKvStore, UnstorageStore, createApp, createBroadcastApp, Broadcaster, recordCloudflareClient];`,
      `export type J = Job;`,
    ].join("\n"));
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022"],
        types: ["node"], typeRoots: [join(ROOT, "node_modules/@types")], skipLibCheck: false, noEmit: true,
      },
      files: ["check.ts"],
    }));
    const { out } = run(bin("tsc"), ["-p", "tsconfig.json"], project);
    // hono's own declarations need the DOM lib (its WebSocket helper); that is hono's to fix, and
    // only projects importing /http meet it. Ours must add nothing.
    const ours = out.split("\n").filter((line) => /error TS/.test(line) && !line.startsWith("node_modules/hono/"));
    assert.deepEqual(ours, []);
  });

  test("the core bundles with valibot and croner only; a missing ioredis says what to install", async () => {
    const { build } = await import("esbuild");
    const result = await build({
      stdin: { contents: quickStart(), resolveDir: project, loader: "ts" },
      bundle: true, format: "esm", platform: "neutral", mainFields: ["module", "main"], write: false, metafile: true, logLevel: "silent",
    });
    const packages = new Set(Object.keys(result.metafile!.inputs).filter((p) => p.includes("node_modules/")).map((p) => {
      const rest = p.split("node_modules/").pop()!.split("/");
      return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
    }));
    for (const heavy of ["hono", "jose", "unstorage", "ioredis"]) assert.ok(!packages.has(heavy), `the core pulled in ${heavy}`);
    const { out } = run(process.execPath, ["--input-type=module", "-e", [
      `import { RedisStore } from "${PKG}/redis";`,
      `try { await new RedisStore({ connection: "redis://127.0.0.1:1", callTimeoutMs: 500 }).counts("q"); } catch (e) { console.log(String(e.message)); }`,
    ].join("\n")], project);
    assert.match(out, /needs the "ioredis" package: npm install ioredis/);
  });

  test("the Workers example bundles with esbuild and wrangler as is, and runs a job in workerd", async () => {
    const cf = join(project, "cloudflare");
    mkdirSync(cf, { recursive: true });
    cpSync(join(ROOT, "examples/cloudflare"), cf, { recursive: true });
    const { build } = await import("esbuild");
    await build({
      entryPoints: [join(cf, "worker.ts")], bundle: true, format: "esm", platform: "neutral",
      conditions: ["workerd", "worker", "browser"], mainFields: ["module", "main"], outfile: join(cf, "esbuild-out.js"), logLevel: "silent",
    });
    const dry = run(bin("wrangler"), ["deploy", "--dry-run", "--outdir", "wrangler-out"], cf, 180_000);
    assert.equal(dry.code, 0, dry.out);
    const { Miniflare } = await import("miniflare");
    const { SignJWT } = await import("jose");
    const { readFileSync } = await import("node:fs");
    const secret = "a-workers-consumer-test-secret-long-enough";
    const mf = new Miniflare({
      modules: true,
      script: readFileSync(join(cf, "wrangler-out/worker.js"), "utf8"),
      compatibilityDate: "2025-09-01",
      bindings: { CONVEYOR_SECRET: secret },
    });
    try {
      const token = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("consumer")
        .setIssuer("conveyor-demo").setAudience("conveyor").setExpirationTime("5m").sign(new TextEncoder().encode(secret));
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const added = await mf.dispatchFetch("http://worker/queues/emails/jobs", {
        method: "POST", headers, body: JSON.stringify({ name: "send-email", payload: { to: "ada@example.com" } }),
      });
      assert.equal(added.status, 201, await added.clone().text());
      const { job } = await added.json() as { job: { id: string } };
      let state = "";
      for (let i = 0; i < 200 && state !== "completed"; i++) {
        const res = await mf.dispatchFetch(`http://worker/queues/emails/jobs/${job.id}`, { headers });
        state = ((await res.json()) as { job: { state: string } }).job.state;
        if (state !== "completed") await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.equal(state, "completed");
    } finally {
      await mf.dispose();
    }
  });
});

