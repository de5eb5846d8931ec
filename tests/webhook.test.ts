// The webhook job against a local server: Standard Webhooks signatures that verify (and fail
// when tampered with, stale, or signed with another secret), the retry rules (5xx, 408, 429 with
// Retry-After in seconds and as a date, network errors; other 4xx unrecoverable), redirects,
// the address guard (nothing is sent to a refused address), and the result kept.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createConveyor, FakeClock, type Job } from "../mod.ts";
import { generateWebhookSecret, isBlockedAddress, signWebhook, verifyWebhook, webhookJob, type WebhookResult } from "../jobs.ts";
import { eventually } from "./support/harness.ts";

interface Received {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

/** A local HTTP server whose answers a test scripts by path. */
let server: ReturnType<typeof createServer>;
let base = "";
const received: Received[] = [];
const routes = new Map<string, (req: Received, res: ServerResponse) => void>();

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk) => body += chunk);
    req.on("end", () => {
      const path = new URL(req.url!, "http://x").pathname;
      const entry = { path, method: req.method!, headers: req.headers as Record<string, string>, body };
      received.push(entry);
      const route = routes.get(path);
      if (route) route(entry, res);
      else res.writeHead(404).end("no route");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const secret = generateWebhookSecret();
const START = Date.UTC(2026, 11, 4, 12, 0, 0);

async function setup(options: Parameters<typeof webhookJob>[0] = {}) {
  const clock = new FakeClock({ startMs: START });
  const conveyor = createConveyor({ clock });
  const hook = webhookJob({ secret, allow: ["127.0.0.1"], clock, ...options });
  const queue = conveyor.queue("hooks");
  hook.register(conveyor.worker(queue));
  const settled = async (id: string, states: Job["state"][]) => {
    let job: Job | null = null;
    await eventually(clock, async () => states.includes((job = await queue.get(id))!.state), 10_000);
    return job!;
  };
  return { clock, conveyor, queue, hook, settled };
}

describe("webhook job", () => {
  test("signs per Standard Webhooks; the receiver's verifyWebhook accepts it, and only it", async () => {
    routes.set("/ok", (_req, res) => res.writeHead(200, { "content-type": "application/json", "x-request-id": "r-1", "x-other": "dropped" }).end(JSON.stringify({ ok: true, token: "sk_live_0123456789abcdefABCDEF0123" })));
    const { conveyor, queue, hook, settled } = await setup();
    const job = await queue.add(hook.definition, { url: `${base}/ok?key=hidden`, body: { event: "user.created", id: 7 }, headers: { "x-tenant": "acme", "Content-Type": "application/cloudevents+json" } });
    const done = await settled(job.id, ["completed"]);
    const got = received.at(-1)!;
    assert.equal(got.method, "POST");
    assert.equal(got.body, JSON.stringify({ event: "user.created", id: 7 }));
    assert.equal(got.headers["content-type"], "application/cloudevents+json", "the payload's content type, once");
    assert.equal(got.headers["x-tenant"], "acme");
    assert.equal(got.headers["webhook-id"], `msg_hooks_${job.id}`);
    assert.equal(got.headers["webhook-timestamp"], String(START / 1000));
    assert.match(got.headers["webhook-signature"]!, /^v1,[A-Za-z0-9+/]+=*$/);

    const verified = await verifyWebhook(secret, got.headers, got.body, { now: START + 1_000 });
    assert.deepEqual(verified, { id: `msg_hooks_${job.id}`, timestampMs: START, body: got.body });
    // With Headers too, and with a rotated list where the right secret is second.
    await verifyWebhook([generateWebhookSecret(), secret], new Headers(got.headers), got.body, { now: START });
    const invalid = { code: "WEBHOOK_INVALID" };
    await assert.rejects(verifyWebhook(secret, got.headers, got.body + " ", { now: START }), invalid);
    await assert.rejects(verifyWebhook(generateWebhookSecret(), got.headers, got.body, { now: START }), invalid);
    await assert.rejects(verifyWebhook(secret, got.headers, got.body, { now: START + 5 * 60_000 + 1_000 }), invalid);
    await assert.rejects(verifyWebhook(secret, { ...got.headers, "webhook-id": "other" }, got.body, { now: START }), invalid);
    await assert.rejects(verifyWebhook(secret, { ...got.headers, "webhook-signature": undefined }, got.body, { now: START }), invalid);

    const result = done.result as WebhookResult;
    assert.equal(result.status, 200);
    assert.equal(result.url, `${base}/ok`, "no query in the result");
    assert.equal(result.headers["content-type"], "application/json");
    assert.equal(result.headers["x-request-id"], "r-1");
    assert.equal(result.headers["x-other"], undefined, "only the selected headers");
    assert.equal(result.body, JSON.stringify({ ok: true, token: "[REDACTED]" }));
    assert.equal(result.bodyTruncated, false);
    await conveyor.close();
  });

  test("a signature made by signWebhook is the reference one (fixed key, id, time and body)", async () => {
    // The Standard Webhooks reference test vector.
    const headers = await signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", { id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestampMs: 1614265330_000, body: '{"test": 2432232314}' });
    assert.equal(headers["webhook-signature"], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    await assert.rejects(signWebhook("not-a-secret", { id: "x", timestampMs: 0, body: "" }), TypeError);
  });

  test("5xx, 408 and 429 are retried; Retry-After (seconds or a date) is the next delay", async () => {
    let calls = 0;
    const answers: [number, Record<string, string>][] = [[503, {}], [429, { "retry-after": "7" }], [408, {}], [503, { "retry-after": new Date(START + 60_000).toUTCString() }], [200, {}]];
    routes.set("/flaky", (_req, res) => {
      const [status, headers] = answers[calls++]!;
      res.writeHead(status, headers).end(status === 200 ? "fine" : "try later");
    });
    const { clock, conveyor, queue, hook, settled } = await setup();
    const job = await queue.add(hook.definition, { url: `${base}/flaky`, body: { n: 1 } });
    const delays: number[] = [];
    const failedAt: number[] = [];
    for (let retry = 1; retry <= 4; retry++) {
      const waiting = await settled(job.id, ["delayed"]);
      assert.equal(waiting.attemptsMade, retry);
      assert.equal(waiting.lastError?.code, "WEBHOOK_FAILED");
      failedAt.push(clock.now());
      delays.push(waiting.runAt - clock.now());
      await clock.advance(waiting.runAt - clock.now());
    }
    assert.ok(delays[0]! >= 800 && delays[0]! <= 1_000, `first backoff about 1 s, was ${delays[0]}`);
    assert.equal(delays[1], 7_000, "Retry-After: 7");
    assert.ok(delays[2]! >= 3_200 && delays[2]! <= 4_000, `third backoff about 4 s, was ${delays[2]}`);
    assert.equal(delays[3], START + 60_000 - failedAt[3]!, "Retry-After as an HTTP-date");
    const done = await settled(job.id, ["completed"]);
    assert.equal((done.result as WebhookResult).body, "fine");
    assert.equal(calls, 5);
    // Every retry is the same message: the same id, so the receiver can drop duplicates.
    assert.equal(new Set(received.filter((r) => r.path === "/flaky").map((r) => r.headers["webhook-id"])).size, 1);
    await conveyor.close();
  });

  test("other 4xx fail at once, without retries, with the status and the redacted answer", async () => {
    let calls = 0;
    routes.set("/gone", (_req, res) => void (calls++, res.writeHead(410).end("gone; password=hunter2hunter2")));
    const { conveyor, queue, hook, settled } = await setup();
    const job = await queue.add(hook.definition, { url: `${base}/gone` });
    const dead = await settled(job.id, ["dead", "failed"]);
    assert.equal(calls, 1);
    assert.equal(dead.attemptsMade, 1);
    assert.equal(dead.lastError?.code, "WEBHOOK_REJECTED");
    assert.match(dead.lastError!.message, /answered 410/);
    assert.doesNotMatch(dead.lastError!.message, /hunter2/);
    await conveyor.close();
  });

  test("a network error (nothing listening) is retried", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { conveyor, queue, hook, settled } = await setup();
    const job = await queue.add(hook.definition, { url: `http://127.0.0.1:${port}/x` });
    const waiting = await settled(job.id, ["delayed"]);
    assert.equal(waiting.lastError?.code, "WEBHOOK_FAILED");
    assert.match(waiting.lastError!.message, /failed/);
    await conveyor.close();
  });

  test("a request past timeoutMs fails the attempt and is retried", async () => {
    routes.set("/slow", () => {}); // never answers
    const { clock, conveyor, queue, hook, settled } = await setup({ timeoutMs: 5_000 });
    const job = await queue.add(hook.definition, { url: `${base}/slow` });
    await eventually(clock, () => received.some((r) => r.path === "/slow"), 10_000);
    await clock.advance(5_000);
    const waiting = await settled(job.id, ["delayed"]);
    assert.match(waiting.lastError!.message, /timed out after 5000 ms/);
    await conveyor.close();
  });

  test("refused addresses fail without a request: loopback, private, link-local, metadata, schemes", async () => {
    // No allow-list here; names resolve through a stub: one public, one pointing inside.
    const clock = new FakeClock({ startMs: START });
    const conveyor = createConveyor({ clock });
    const queue = conveyor.queue("strict");
    const strict = webhookJob({ secret, clock, resolve: async (host) => host === "evil.example" ? ["10.0.0.5"] : ["93.184.215.14"] });
    strict.register(conveyor.worker(queue));
    const settled = async (id: string, states: Job["state"][]) => {
      let job: Job | null = null;
      await eventually(clock, async () => states.includes((job = await queue.get(id))!.state), 10_000);
      return job!;
    };
    const before = received.length;
    for (const url of [base, "http://localhost:1/", "http://169.254.169.254/latest/meta-data", "http://[::1]:80/", "http://[::ffff:127.0.0.1]/", "http://0x7f.1/", "http://2130706433/", "http://10.1.2.3/", "http://192.168.0.1/", "http://[fd00:ec2::254]/", "http://metadata.google.internal/", "http://evil.example/"]) {
      const job = await queue.add(strict.definition, { url });
      const dead = await settled(job.id, ["dead", "failed"]);
      assert.equal(dead.lastError?.code, "WEBHOOK_REFUSED", url);
      assert.equal(dead.attemptsMade, 1, url);
    }
    assert.equal(received.length, before, "nothing was sent");
    await conveyor.close();
  });

  test("a redirect is followed only to an address that passes the guard", async () => {
    routes.set("/moved", (_req, res) => res.writeHead(307, { location: "/ok" }).end());
    routes.set("/to-metadata", (_req, res) => res.writeHead(302, { location: "http://169.254.169.254/latest" }).end());
    const { conveyor, queue, hook, settled } = await setup();
    const moved = await settled((await queue.add(hook.definition, { url: `${base}/moved`, body: { a: 1 } })).id, ["completed"]);
    assert.equal((moved.result as WebhookResult).redirects, 1);
    assert.equal(received.at(-1)!.path, "/ok");
    assert.equal(received.at(-1)!.body, JSON.stringify({ a: 1 }), "307 keeps method and body");
    const refused = await settled((await queue.add(hook.definition, { url: `${base}/to-metadata` })).id, ["dead", "failed"]);
    assert.equal(refused.lastError?.code, "WEBHOOK_REFUSED");
    routes.set("/to-file", (_req, res) => res.writeHead(301, { location: "file:///etc/passwd" }).end());
    const scheme = await settled((await queue.add(hook.definition, { url: `${base}/to-file` })).id, ["dead", "failed"]);
    assert.equal(scheme.lastError?.code, "WEBHOOK_REFUSED");
    assert.match(scheme.lastError!.message, /only http and https/);
    await conveyor.close();
  });

  test("a long answer is cut to maxBodyChars", async () => {
    routes.set("/long", (_req, res) => res.writeHead(200).end("x".repeat(100_000)));
    const { conveyor, queue, hook, settled } = await setup({ maxBodyChars: 100 });
    const done = await settled((await queue.add(hook.definition, { url: `${base}/long` })).id, ["completed"]);
    const result = done.result as WebhookResult;
    assert.equal(result.body, "x".repeat(100));
    assert.equal(result.bodyTruncated, true);
    await conveyor.close();
  });

  test("payloads are validated: bad URLs and reserved headers are refused by add", async () => {
    const { conveyor, queue, hook } = await setup();
    await assert.rejects(queue.add(hook.definition, { url: "not a url" }), { code: "VALIDATION_FAILED" });
    await assert.rejects(queue.add(hook.definition, { url: "ftp://example.com/" }), { code: "VALIDATION_FAILED" });
    await assert.rejects(queue.add(hook.definition, { url: "file:///etc/passwd" }), { code: "VALIDATION_FAILED" });
    await assert.rejects(queue.add(hook.definition, { url: `${base}/ok`, headers: { "webhook-signature": "v1,forged" } }), { code: "VALIDATION_FAILED" });
    await assert.rejects(queue.add(hook.definition, { url: `${base}/ok`, headers: { "x-a": "b\r\nx-injected: 1" } }), { code: "VALIDATION_FAILED" });
    assert.throws(() => webhookJob({ secret: "plain" }), TypeError);
    await conveyor.close();
  });

  test("isBlockedAddress: the ranges, in every spelling", () => {
    for (const a of ["127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::"]) assert.ok(isBlockedAddress(a), a);
    for (const a of ["93.184.215.14", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]) assert.ok(!isBlockedAddress(a), a);
  });
});

test("the runtime's resolver: a name that does not resolve is refused before any request", async () => {
  const { runtime } = await import("./support/runtime.ts");
  const resolve = runtime === "deno"
    ? (await import("../src/adapter/deno-system.ts")).denoResolver()
    : runtime === "bun"
    ? (await import("../src/adapter/bun-system.ts")).bunResolver()
    : (await import("../src/adapter/node-system.ts")).nodeResolver();
  const clock = new FakeClock({ startMs: START });
  const conveyor = createConveyor({ clock });
  const queue = conveyor.queue("resolving");
  const hook = webhookJob({ clock, resolve });
  hook.register(conveyor.worker(queue));
  const job = await queue.add(hook.definition, { url: "http://no-such-host.invalid/hook" });
  let got: Job | null = null;
  await eventually(clock, async () => (got = await queue.get(job.id))!.state === "dead", 20_000);
  assert.equal(got!.lastError?.code, "WEBHOOK_REFUSED");
  assert.match(got!.lastError!.message, /does not resolve|no address/);
  await conveyor.close();
});

test("registered, the webhook job is enqueued by name over HTTP and fired by a schedule", async () => {
  const { createApp } = await import("../http.ts");
  const { every } = await import("../mod.ts");
  routes.set("/by-name", (_req, res) => res.writeHead(204).end());
  const clock = new FakeClock({ startMs: START });
  const conveyor = createConveyor({ clock });
  const hook = webhookJob({ secret, allow: ["127.0.0.1"], clock });
  hook.register(conveyor.worker("hooks"));
  const scheduler = conveyor.scheduler();
  const app = createApp(conveyor, { auth: false, scheduler });
  const before = received.filter((r) => r.path === "/by-name").length;
  const added = await app.request("/queues/hooks/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "webhook", payload: { url: `${base}/by-name`, body: { via: "http" } } }),
  });
  assert.equal(added.status, 201, await added.clone().text());
  const refused = await app.request("/queues/hooks/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "webhook", payload: { url: "javascript:alert(1)" } }),
  });
  assert.equal(refused.status, 400, "the payload schema answers over HTTP too");
  await scheduler.schedule("ping", every(1, "minutes"), { queue: "hooks", job: hook.definition, payload: { url: `${base}/by-name`, body: { via: "schedule" } } });
  await clock.advance(60_000);
  await eventually(clock, () => received.filter((r) => r.path === "/by-name").length === before + 2, 10_000);
  const bodies = received.filter((r) => r.path === "/by-name").slice(before).map((r) => r.body).sort();
  assert.deepEqual(bodies, [JSON.stringify({ via: "http" }), JSON.stringify({ via: "schedule" })]);
  await conveyor.close();
});
