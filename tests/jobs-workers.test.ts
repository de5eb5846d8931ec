// The ready-made jobs on Cloudflare Workers, bundled for workerd (no node:*) and run through
// miniflare: the command job is refused at definition (UNSUPPORTED_RUNTIME); the webhook job,
// which cannot resolve names there, still refuses a private address without sending, and
// delivers a signed request (crypto.subtle in workerd) to an allow-listed one.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { generateWebhookSecret, verifyWebhook } from "../jobs.ts";
import { runtime } from "./support/runtime.ts";

const WORKER = `
import { createConveyor } from "./mod.ts";
import { commandJob, webhookJob } from "./jobs.ts";
import { cloudflareSpawner } from "./src/adapter/cloudflare-system.ts";

const refusal = (define) => {
  try {
    define();
    return { defined: true };
  } catch (error) {
    return { name: error.name, code: error.code, message: error.message };
  }
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/command") {
      return Response.json({
        withSpawner: refusal(() => commandJob({ spawner: cloudflareSpawner(), programs: ["ls"] })),
        without: refusal(() => commandJob({ programs: ["ls"] })),
      });
    }
    const conveyor = createConveyor();
    const queue = conveyor.queue("hooks");
    const allow = url.searchParams.get("allow");
    const hook = webhookJob({ secret: env.WEBHOOK_SECRET, ...(allow ? { allow: [allow] } : {}) });
    hook.register(conveyor.worker(queue, { autostart: false }));
    const job = await queue.add(hook.definition, { url: url.searchParams.get("target"), body: { hello: "edge" } });
    await conveyor.drain();
    const done = await queue.get(job.id);
    await conveyor.close();
    return Response.json({ state: done.state, error: done.lastError, result: done.result ?? null });
  },
};
`;

describe(`ready-made jobs in workerd (driven from ${runtime})`, () => {
  const secret = generateWebhookSecret();
  let mf: Miniflare;
  let server: ReturnType<typeof createServer>;
  let port = 0;
  const received: { headers: Record<string, string>; body: string }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => body += chunk);
      req.on("end", () => {
        received.push({ headers: req.headers as Record<string, string>, body });
        res.writeHead(200, { "content-type": "text/plain" }).end("received");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    const bundle = await build({
      stdin: { contents: WORKER, resolveDir: fileURLToPath(new URL("..", import.meta.url)), loader: "js", sourcefile: "jobs-worker.js" },
      bundle: true,
      format: "esm",
      platform: "browser",
      conditions: ["workerd", "worker", "browser"],
      write: false,
      logLevel: "silent",
    });
    mf = new Miniflare({ modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: "2025-09-01", bindings: { WEBHOOK_SECRET: secret } });
  });
  after(async () => {
    await mf?.dispose();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test("the command job is refused at definition, with a spawner or without", async () => {
    const answer = await (await mf.dispatchFetch("http://worker/command")).json() as Record<string, { code?: string; name?: string; message?: string }>;
    for (const refusal of [answer.withSpawner!, answer.without!]) {
      assert.equal(refusal.name, "ConveyorError");
      assert.equal(refusal.code, "UNSUPPORTED_RUNTIME");
      assert.match(refusal.message!, /Cloudflare Workers cannot start processes/);
    }
  });

  test("the webhook job refuses a private address without sending anything", async () => {
    const before = received.length;
    const answer = await (await mf.dispatchFetch(`http://worker/hook?target=${encodeURIComponent(`http://127.0.0.1:${port}/hook`)}`)).json() as { state: string; error: { code: string } };
    assert.equal(answer.state, "dead");
    assert.equal(answer.error.code, "WEBHOOK_REFUSED");
    assert.equal(received.length, before);
  });

  test("allow-listed, it delivers a request signed in workerd that verifyWebhook accepts", async () => {
    const target = encodeURIComponent(`http://127.0.0.1:${port}/hook`);
    const answer = await (await mf.dispatchFetch(`http://worker/hook?allow=127.0.0.1&target=${target}`)).json() as { state: string; result: { status: number; body: string } };
    assert.equal(answer.state, "completed", JSON.stringify(answer));
    assert.equal(answer.result.status, 200);
    assert.equal(answer.result.body, "received");
    const got = received.at(-1)!;
    assert.equal(got.body, JSON.stringify({ hello: "edge" }));
    await verifyWebhook(secret, got.headers, got.body);
  });
});
