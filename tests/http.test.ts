// The HTTP app, driven with app.request(): routes, auth, validation, errors, ops, OpenAPI.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Hono } from "hono";
import { SignJWT } from "jose";
import * as v from "valibot";
import { createConveyor, defineJob, RateLimiter } from "../mod.ts";
import { createApp } from "../http.ts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const email = defineJob("email", v.object({ to: v.pipe(v.string(), v.email()) }));

async function token(claims: Record<string, unknown> = {}, options: { secret?: string; expiresIn?: string; audience?: string } = {}) {
  return await new SignJWT({ scope: "admin", ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(String(claims.sub ?? "ada"))
    .setIssuer("https://auth.example.com")
    .setAudience(options.audience ?? "conveyor")
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "5m")
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

function server(extra: Partial<Parameters<typeof createApp>[1]> = {}) {
  const conveyor = createConveyor();
  conveyor.queue("emails").register(email);
  const app = createApp(conveyor, { auth: { secret: SECRET, issuer: "https://auth.example.com", audience: "conveyor" }, bodyLimitBytes: 10_000, ...extra });
  const call = async (method: string, path: string, init: { body?: unknown; raw?: string; token?: string | null; type?: string } = {}) => {
    const headers: Record<string, string> = {};
    const auth = init.token === undefined ? await token() : init.token;
    if (auth) headers.authorization = `Bearer ${auth}`;
    if (init.body !== undefined || init.raw !== undefined) headers["content-type"] = init.type ?? "application/json";
    const res = await app.request(path, { method, headers, body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)) });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch { /* text answers */ }
    return { status: res.status, json, text, headers: res.headers };
  };
  return { conveyor, app, call };
}

describe("HTTP app", () => {
  test("enqueue, read, list, cancel, retry and remove a job", async () => {
    const { call, conveyor } = server();
    const added = await call("POST", "/queues/emails/jobs", { body: { name: "email", payload: { to: "ada@example.com" }, options: { priority: "high" } } });
    assert.equal(added.status, 201);
    const id = added.json.job.id;
    assert.equal(added.json.job.priority, 100);
    assert.equal(added.json.job.createdBy, "ada", "the token's subject is recorded on the job");
    assert.equal((await call("GET", `/queues/emails/jobs/${id}`)).json.job.payload.to, "ada@example.com");
    assert.deepEqual((await call("GET", "/queues/emails/jobs?state=waiting&limit=10")).json.jobs.map((j: { id: string }) => j.id), [id]);
    const bulk = await call("POST", "/queues/emails/jobs/bulk", { body: { jobs: [{ name: "email", payload: { to: "b@example.com" } }, { name: "email", payload: { to: "c@example.com" } }] } });
    assert.equal(bulk.json.jobs.length, 2);
    assert.deepEqual((await call("POST", `/queues/emails/jobs/${id}/cancel`, { token: await token({ sub: "grace" }) })).json, { previous: "waiting" });
    const { changedBy } = (await call("GET", `/queues/emails/jobs/${id}`)).json.job;
    assert.deepEqual([changedBy.action, changedBy.by, typeof changedBy.at], ["cancel", "grace", "number"]);
    const retried = (await call("POST", `/queues/emails/jobs/${id}/retry`, { token: await token({ sub: "linus" }) })).json.job;
    assert.deepEqual([retried.state, retried.createdBy, retried.changedBy.by], ["waiting", "ada", "linus"]);
    const forged = await call("POST", "/queues/emails/jobs", { body: { name: "email", payload: { to: "x@example.com" }, options: { createdBy: "someone-else" } } });
    assert.deepEqual([forged.status, forged.json.error.code], [400, "VALIDATION_FAILED"], "createdBy comes from the token, never the body");
    assert.equal((await call("DELETE", `/queues/emails/jobs/${id}`)).status, 200);
    assert.equal((await call("GET", `/queues/emails/jobs/${id}`)).status, 404);
    const queues = await call("GET", "/queues");
    assert.deepEqual(queues.json.queues.map((q: { name: string; counts: { waiting: number } }) => [q.name, q.counts.waiting]), [["emails", 2]]);
    assert.equal((await call("POST", "/queues/emails/pause")).json.paused, true);
    assert.equal((await conveyor.queue("emails").counts()).paused, 2);
    await call("POST", "/queues/emails/resume");
    await conveyor.close();
  });

  test("dead letters: listed, retried and purged", async () => {
    const { call, conveyor } = server();
    conveyor.worker("emails").handle(email, () => {
      throw new Error("smtp down");
    });
    for (const to of ["a@x.io", "b@x.io"]) await call("POST", "/queues/emails/jobs", { body: { name: "email", payload: { to } } });
    const deadline = Date.now() + 5_000;
    while ((await conveyor.queue("emails").counts()).dead < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const dead = await call("GET", "/queues/emails/dead");
    assert.equal(dead.json.jobs.length, 2);
    assert.equal(dead.json.jobs[0].dead.error.message, "smtp down");
    await conveyor.queue("emails").pause();
    const retried = await call("POST", "/queues/emails/dead/retry", { body: { ids: [dead.json.jobs[0].id] } });
    assert.deepEqual(retried.json.retried, [dead.json.jobs[0].id]);
    assert.deepEqual((await call("DELETE", "/queues/emails/dead")).json, { purged: 1 });
    await conveyor.close({ timeoutMs: 0 });
  });

  test("bad input gets the right status and error code, and never reaches the core", async () => {
    const { call, conveyor } = server();
    const good = { name: "email", payload: { to: "ada@example.com" } };
    const cases: [string, () => Promise<{ status: number; json: any }>, number, string][] = [
      ["no token", () => call("POST", "/queues/emails/jobs", { body: good, token: null }), 401, "UNAUTHENTICATED"],
      ["not a bearer token", async () => {
        const res = await server().app.request("/queues", { headers: { authorization: "Basic abc" } });
        return { status: res.status, json: await res.json() };
      }, 401, "UNAUTHENTICATED"],
      ["forged signature", async () => call("GET", "/queues", { token: await token({}, { secret: "another-secret-that-is-also-long-enough!!" }) }), 401, "UNAUTHENTICATED"],
      ["expired token", async () => call("GET", "/queues", { token: await token({}, { expiresIn: "-1m" }) }), 401, "UNAUTHENTICATED"],
      ["wrong audience", async () => call("GET", "/queues", { token: await token({}, { audience: "someone-else" }) }), 401, "UNAUTHENTICATED"],
      ["missing scope", async () => call("POST", "/queues/emails/jobs", { body: good, token: await token({ scope: "jobs:read" }) }), 403, "FORBIDDEN"],
      ["scope for another queue", async () => call("POST", "/queues/emails/jobs", { body: good, token: await token({ scope: "jobs:write:sms" }) }), 403, "FORBIDDEN"],
      ["wrong payload type", () => call("POST", "/queues/emails/jobs", { body: { name: "email", payload: { to: 5 } } }), 400, "VALIDATION_FAILED"],
      ["unknown body field", () => call("POST", "/queues/emails/jobs", { body: { ...good, sneaky: true } }), 400, "VALIDATION_FAILED"],
      ["bad job option", () => call("POST", "/queues/emails/jobs", { body: { ...good, options: { attempts: -1 } } }), 400, "VALIDATION_FAILED"],
      ["invalid JSON", () => call("POST", "/queues/emails/jobs", { raw: "{\"name\": " }), 400, "INVALID_JSON"],
      ["not JSON at all", () => call("POST", "/queues/emails/jobs", { raw: "name=email", type: "application/x-www-form-urlencoded" }), 415, "UNSUPPORTED_MEDIA_TYPE"],
      ["huge body", () => call("POST", "/queues/emails/jobs", { body: { ...good, payload: { to: "x".repeat(20_000) } } }), 413, "PAYLOAD_TOO_LARGE"],
      ["unknown job name", () => call("POST", "/queues/emails/jobs", { body: { name: "sms", payload: {} } }), 400, "UNKNOWN_JOB"],
      ["bad queue name", () => call("GET", "/queues/has%20space/jobs?state=waiting"), 400, "VALIDATION_FAILED"],
      ["bad state", () => call("GET", "/queues/emails/jobs?state=sleeping"), 400, "VALIDATION_FAILED"],
      ["bad paging", () => call("GET", "/queues/emails/jobs?state=waiting&limit=lots"), 400, "VALIDATION_FAILED"],
      ["job not found", () => call("GET", "/queues/emails/jobs/nope"), 404, "JOB_NOT_FOUND"],
      ["bad cron", () => call("POST", "/schedules", { body: { id: "s", when: { cron: "61 * * * *" }, queue: "emails", job: "email", payload: good.payload } }), 400, "VALIDATION_FAILED"],
      ["bad timezone", () => call("POST", "/schedules", { body: { id: "s", when: { cron: "0 3 * * *" }, queue: "emails", job: "email", payload: good.payload, options: { timezone: "Nowhere/City" } } }), 400, "VALIDATION_FAILED"],
      ["schedule not found", () => call("POST", "/schedules/nope/trigger"), 404, "SCHEDULE_NOT_FOUND"],
      ["unknown route", () => call("GET", "/nothing/here"), 404, "NOT_FOUND"],
    ];
    for (const [what, request, status, code] of cases) {
      const res = await request();
      assert.equal(res.status, status, `${what}: status ${res.status} ${JSON.stringify(res.json)}`);
      assert.equal(res.json?.error?.code, code, `${what}: code`);
      assert.equal(typeof res.json.error.message, "string");
      assert.ok(Array.isArray(res.json.error.issues), `${what}: issues is a list`);
    }
    const typed = await call("POST", "/queues/emails/jobs", { body: { name: "email", payload: { to: 5 } } });
    assert.deepEqual(typed.json.error.issues.map((i: { path: string }) => i.path), ["body.payload.to"]);
    assert.ok(!typed.text.includes("5}"), "the bad value is not echoed");
    assert.equal((await conveyor.queue("emails").counts()).waiting, 0, "nothing bad was enqueued");
    const allowed = await call("POST", "/queues/emails/jobs", { body: good, token: await token({ scope: "jobs:write:emails" }) });
    assert.equal(allowed.status, 201, "a scope for this queue is enough");
    const cancelledTwice = await call("POST", `/queues/emails/jobs/${allowed.json.job.id}/cancel`);
    assert.equal(cancelledTwice.status, 200);
    assert.equal((await call("POST", `/queues/emails/jobs/${allowed.json.job.id}/cancel`)).json.error.code, "INVALID_STATE");
    await conveyor.close();
  });

  test("schedules over HTTP: create, read, pause, trigger, replace, delete", async () => {
    const { call, conveyor } = server();
    const body = { id: "digest", when: { cron: "0 8 * * *" }, queue: "emails", job: "email", payload: { to: "team@example.com" }, options: { timezone: "Europe/Berlin" } };
    assert.equal((await call("POST", "/schedules", { body })).status, 201);
    assert.equal((await call("POST", "/schedules", { body })).json.error.code, "SCHEDULE_EXISTS");
    const got = await call("GET", "/schedules/digest");
    assert.equal(got.json.schedule.timezone, "Europe/Berlin");
    assert.equal(typeof got.json.schedule.nextRunAt, "number");
    assert.equal((await call("POST", "/schedules/digest/pause")).json.schedule.paused, true);
    const triggered = await call("POST", "/schedules/digest/trigger");
    assert.equal(triggered.status, 201);
    assert.equal(triggered.json.job.queue, "emails");
    const replaced = await call("PUT", "/schedules/digest", { body: { ...body, id: undefined, when: { everyMs: 60_000 } } });
    assert.equal(replaced.json.schedule.everyMs, 60_000);
    assert.equal((await call("GET", "/schedules")).json.schedules.length, 1);
    assert.equal((await call("DELETE", "/schedules/digest")).status, 200);
    assert.equal((await call("GET", "/schedules/digest")).status, 404);
    assert.equal((await call("GET", "/schedules", { token: await token({ scope: "jobs:read" }) })).status, 403);
    await conveyor.close();
  });

  test("rate limit: 429 with Retry-After, and RateLimit headers on every answer", async () => {
    const limiter = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 2, windowMs: 60_000 } });
    const { call, conveyor } = server({ rateLimit: { limiter } });
    const first = await call("GET", "/queues");
    assert.equal(first.headers.get("ratelimit-limit"), "2");
    assert.equal(first.headers.get("ratelimit-remaining"), "1");
    await call("GET", "/queues");
    const refused = await call("GET", "/queues");
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error.code, "RATE_LIMITED");
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    assert.equal(refused.headers.get("ratelimit-remaining"), "0");
    const other = await call("GET", "/queues", { token: await token({ sub: "grace" }) });
    assert.equal(other.status, 200, "limits are per user");
    await conveyor.close();
  });

  test("health (JSON and text), Prometheus metrics and an SSE event stream", async () => {
    const { call, conveyor, app } = server();
    conveyor.worker("emails").handle(email, () => "sent");
    conveyor.worker(["emails", "sms"], { autostart: false, concurrency: 4 });
    const events = await app.request("/queues/emails/events", { headers: { authorization: `Bearer ${await token()}` } });
    assert.equal(events.headers.get("content-type"), "text/event-stream");
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("event: ready")) seen += (await reader.read()).value;
    await call("POST", "/queues/emails/jobs", { body: { name: "email", payload: { to: "ada@example.com" } } });
    while (!seen.includes("event: completed")) seen += (await reader.read()).value;
    assert.match(seen, /event: enqueued\ndata: \{"type":"enqueued","queue":"emails"/);
    await reader.cancel();
    const health = await call("GET", "/health");
    assert.equal(health.json.status, "ok");
    assert.equal(health.json.configuration.store, "MemoryStore");
    assert.equal(health.json.queues[0].last24h.completed, 1);
    assert.equal(health.json.queues[0].last24h.successRate, 1);
    assert.deepEqual(health.json.configuration.workers.map((w: { queues: string[] }) => w.queues), [["emails"], ["emails", "sms"]]);
    const text = await call("GET", "/health?format=text");
    assert.match(text.text, /workers: emails×1 \(0 active\), emails\+sms×4 \(0 active\)/);
    assert.match(text.text, /queue emails: waiting 0, .*completed 1/);
    assert.match(text.text, /last 24 h: 1 completed, 0 failed, success 100\.0%/);
    const metrics = await call("GET", "/metrics");
    assert.match(metrics.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.text, /conveyor_queue_jobs\{queue="emails",state="completed"\} 1/);
    assert.match(metrics.text, /conveyor_jobs_completed_total\{queue="emails"\} 1/);
    await conveyor.close();
  });

  test("openapi.json describes every route from the schemas that validate it", async () => {
    const { app, conveyor } = server({ basePath: "/jobs" });
    const doc = await (await app.request("/openapi.json")).json() as any;
    assert.equal(doc.openapi, "3.1.0");
    const add = doc.paths["/jobs/queues/{queue}/jobs"].post;
    assert.deepEqual(add.requestBody.content["application/json"].schema.required, ["name", "payload"]);
    assert.equal(add.requestBody.content["application/json"].schema.additionalProperties, false);
    assert.equal(add["x-scope"], "jobs:write");
    assert.ok(doc.paths["/jobs/schedules/{id}/trigger"].post);
    assert.deepEqual(doc.paths["/jobs/queues/{queue}/jobs"].get.parameters.find((p: { name: string }) => p.name === "state").schema.enum,
      ["waiting", "delayed", "active", "waiting-children", "completed", "failed", "dead", "cancelled"]);
    assert.ok(Object.keys(doc.paths).length >= 14);
    await conveyor.close();
  });

  test("mounts under a prefix in a host app; running open must be said out loud", async () => {
    const conveyor = createConveyor();
    conveyor.queue("emails").register(email);
    assert.throws(() => createApp(conveyor, {} as never), /auth: false/);
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args);
    const open = createApp(conveyor, { auth: false });
    console.warn = warn;
    assert.equal(warnings.length, 1);
    const host = new Hono().get("/", (c) => c.text("home")).route("/jobs", open);
    const res = await host.request("/jobs/queues/emails/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "email", payload: { to: "a@b.co" } }) });
    assert.equal(res.status, 201);
    assert.equal(await (await host.request("/")).text(), "home");
    await conveyor.close();
  });
});
