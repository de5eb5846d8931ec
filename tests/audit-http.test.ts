// The HTTP app and the audit log, with app.request(): every operator action and refusal is
// recorded with who, the client's address (as trustProxy says) and the request's id; GET /audit
// pages and filters; GET /audit/export streams JSON lines and CSV.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SignJWT } from "jose";
import * as v from "valibot";
import { type AuditEntry, createConveyor, defineJob, FakeClock } from "../mod.ts";
import { createApp } from "../http.ts";
import { auditedRoutes } from "../src/http/audit-trail.ts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const email = defineJob("email", v.object({ to: v.string() }));

async function server(options: { trustProxy?: boolean | number; audit?: boolean } = {}) {
  const clock = new FakeClock();
  const conveyor = createConveyor({ clock, audit: options.audit ?? true });
  conveyor.queue("emails").register(email);
  const app = createApp(conveyor, { auth: { secret: SECRET }, trustProxy: options.trustProxy ?? true, authFailureLimit: false });
  const token = (scope: string, sub = "ada") =>
    new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime(Math.floor(clock.now() / 1000) + 600)
      .sign(new TextEncoder().encode(SECRET));
  const tokens = { admin: await token("admin"), reader: await token("jobs:read", "rita"), auditor: await token("audit:read", "audrey") };
  const call = async (method: string, path: string, init: { body?: unknown; token?: keyof typeof tokens | null; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { "x-forwarded-for": "198.51.100.4, 203.0.113.7", ...init.headers };
    const who = init.token === undefined ? "admin" : init.token;
    if (who) headers.authorization = `Bearer ${tokens[who]}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const res = await app.request(path, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch { /* an export */ }
    return { status: res.status, json, text, headers: res.headers };
  };
  const entries = async (query = "limit=1000"): Promise<AuditEntry[]> => (await call("GET", `/audit?${query}`)).json.entries;
  return { clock, conveyor, app, call, entries, close: () => conveyor.close() };
}

const job = { name: "email", payload: { to: "ada@example.com" } };
const summary = (e: AuditEntry) => [e.action, e.outcome, e.actor, e.queue, e.jobId, e.scheduleId];

describe("HTTP app: the audit log", () => {
  test("every operator action, newest first, with who, where from and the request's id", async () => {
    const s = await server();
    const one = await s.call("POST", "/queues/emails/jobs", { body: job, headers: { "x-request-id": "req-42" } });
    assert.equal(one.headers.get("x-request-id"), "req-42", "the client's id comes back");
    const id = one.json.job.id;
    await s.call("POST", "/queues/emails/jobs/bulk", { body: { jobs: [job, job] } });
    await s.call("POST", `/queues/emails/jobs/${id}/cancel`);
    await s.call("POST", `/queues/emails/jobs/${id}/retry`);
    await s.call("POST", `/queues/emails/jobs/${id}/cancel`);
    await s.call("DELETE", `/queues/emails/jobs/${id}`);
    await s.call("POST", "/queues/emails/pause");
    await s.call("POST", "/queues/emails/resume");
    await s.call("DELETE", "/queues/emails/dead");
    await s.call("POST", "/queues/emails/dead/retry", { body: { ids: [] } });
    const schedule = { when: { cron: "0 3 * * *" }, queue: "emails", job: "email", payload: job.payload };
    await s.call("POST", "/schedules", { body: { id: "nightly", ...schedule } });
    await s.call("PUT", "/schedules/nightly", { body: schedule });
    await s.call("POST", "/schedules/nightly/pause");
    await s.call("POST", "/schedules/nightly/resume");
    const triggered = await s.call("POST", "/schedules/nightly/trigger");
    await s.call("DELETE", "/schedules/nightly");
    const chain = await s.call("POST", "/queues/emails/chains", { body: { steps: [job, job] } });
    const flow = await s.call("POST", "/queues/emails/flows", { body: { ...job, children: [job] } });
    const batch = await s.call("POST", "/queues/emails/batches", { body: { jobs: [job] } });
    const log = (await s.entries()).reverse();
    assert.deepEqual(log.map(summary), [
      ["job.enqueue", "ok", "ada", "emails", id, null],
      ["job.bulk", "ok", "ada", "emails", null, null],
      ["job.cancel", "ok", "ada", "emails", id, null],
      ["job.retry", "ok", "ada", "emails", id, null],
      ["job.cancel", "ok", "ada", "emails", id, null],
      ["job.remove", "ok", "ada", "emails", id, null],
      ["queue.pause", "ok", "ada", "emails", null, null],
      ["queue.resume", "ok", "ada", "emails", null, null],
      ["dead.purge", "ok", "ada", "emails", null, null],
      ["dead.retry", "ok", "ada", "emails", null, null],
      ["schedule.create", "ok", "ada", "emails", null, "nightly"],
      ["schedule.update", "ok", "ada", "emails", null, "nightly"],
      ["schedule.pause", "ok", "ada", null, null, "nightly"],
      ["schedule.resume", "ok", "ada", null, null, "nightly"],
      ["schedule.trigger", "ok", "ada", "emails", triggered.json.job.id, "nightly"],
      ["schedule.delete", "ok", "ada", null, null, "nightly"],
      ["chain.create", "ok", "ada", "emails", chain.json.job.id, null],
      ["flow.create", "ok", "ada", "emails", flow.json.flow.job.id, null],
      ["batch.create", "ok", "ada", "emails", batch.json.batch.id, null],
    ]);
    assert.deepEqual(log[1]!.details, { count: 2, ids: ["2", "3"] });
    assert.deepEqual(log[2]!.details, { previous: "waiting" });
    assert.deepEqual(log[8]!.details, { purged: 0 });
    assert.equal(log[0]!.requestId, "req-42");
    assert.match(log[1]!.requestId!, /^[0-9a-f-]{36}$/, "one made when the client sent none");
    assert.ok(log.every((e) => e.ip === "203.0.113.7" && e.actorType === "user"), "the address the proxy appended (trustProxy: true)");
    assert.equal(new Set(log.map((e) => e.requestId)).size, log.length, "one id per request");
    await s.close();
  });

  test("failed actions and refused authentications and authorisations, with the address", async () => {
    const s = await server({ trustProxy: 2 });
    const missing = await s.call("POST", "/queues/emails/jobs/nope/cancel");
    const refused = await s.call("POST", "/queues/emails/jobs", { body: job, token: null, headers: { "x-request-id": "bad token" } });
    const forbidden = await s.call("POST", "/queues/emails/pause", { token: "reader" });
    const forged = await s.call("GET", "/queues", { headers: { authorization: "Bearer not.a.jwt" }, token: null });
    assert.deepEqual([missing.status, refused.status, forbidden.status, forged.status], [404, 401, 403, 401]);
    assert.ok(refused.headers.get("x-request-id")?.match(/^[0-9a-f-]{36}$/), "an error answer carries an id too, a new one for a malformed one");
    const log = (await s.entries()).reverse();
    assert.deepEqual(log.map(summary), [
      ["job.cancel", "failed", "ada", "emails", "nope", null],
      ["auth.refused", "refused", "anonymous", "emails", null, null],
      ["auth.forbidden", "refused", "rita", "emails", null, null],
      ["auth.refused", "refused", "anonymous", null, null, null],
    ]);
    assert.deepEqual(log[0]!.details, { code: "JOB_NOT_FOUND" });
    assert.deepEqual(log[1]!.details, { method: "POST", path: "/queues/emails/jobs", code: "UNAUTHENTICATED" });
    assert.deepEqual(log[2]!.details, { method: "POST", path: "/queues/emails/pause", code: "FORBIDDEN" });
    assert.equal(log[1]!.actorType, "anonymous");
    assert.equal(log[1]!.requestId, refused.headers.get("x-request-id"));
    assert.ok(log.every((e) => e.ip === "198.51.100.4"), "two proxies: the second entry from the right");
    await s.close();
  });

  test("without trustProxy a forwarded address is not believed; bad input writes nothing", async () => {
    const s = await server({ trustProxy: false });
    await s.call("POST", "/queues/emails/jobs", { body: { name: "email", payload: { to: 5 } } });
    await s.call("POST", "/queues/emails/jobs", { body: { ...job, sneaky: 1 } });
    await s.call("POST", "/queues/emails/jobs", { body: job, token: null });
    const log = await s.entries();
    assert.deepEqual(log.map(summary), [["auth.refused", "refused", "anonymous", "emails", null, null]]);
    assert.equal(log[0]!.ip, null, "app.request() has no recorded address, and X-Forwarded-For is not trusted");
    await s.close();
  });

  test("a cancel over HTTP is one entry, not the app's and the queue's", async () => {
    const s = await server();
    const { json } = await s.call("POST", "/queues/emails/jobs", { body: job });
    await s.call("POST", `/queues/emails/jobs/${json.job.id}/cancel`);
    await s.call("POST", "/queues/emails/dead/retry", { body: { ids: [json.job.id] } });
    assert.deepEqual((await s.entries()).map((e) => e.action), ["dead.retry", "job.cancel", "job.enqueue"]);
    await s.close();
  });

  test("GET /audit: audit:read, filters as query parameters, cursor paging both ways", async () => {
    const s = await server();
    for (let i = 0; i < 12; i++) {
      await s.call("POST", i % 3 === 0 ? "/queues/emails/pause" : "/queues/emails/jobs", i % 3 === 0 ? {} : { body: job });
      await s.clock.advance(1_000);
    }
    const page = await s.call("GET", "/audit?limit=5", { token: "auditor" });
    assert.equal(page.status, 200);
    assert.equal(page.json.entries.length, 5);
    const next = await s.call("GET", `/audit?limit=5&before=${page.json.next}`, { token: "auditor" });
    const last = await s.call("GET", `/audit?limit=5&before=${next.json.next}`, { token: "auditor" });
    assert.deepEqual([next.json.entries.length, last.json.entries.length, last.json.next], [5, 2, null]);
    const all = [...page.json.entries, ...next.json.entries, ...last.json.entries].map((e: AuditEntry) => e.cursor);
    assert.equal(new Set(all).size, 12);
    const forward = await s.call("GET", `/audit?limit=2&after=${next.json.entries[0].cursor}`, { token: "auditor" });
    assert.deepEqual(forward.json.entries.map((e: AuditEntry) => e.cursor), page.json.entries.slice(-2).map((e: AuditEntry) => e.cursor));
    assert.equal((await s.entries("action=queue.pause")).length, 4);
    assert.equal((await s.entries("action=job.enqueue&actor=ada&queue=emails&limit=3")).length, 3);
    assert.deepEqual((await s.entries("job=2")).map((e) => e.jobId), ["2"]);
    const t0 = Date.UTC(2026, 0, 1);
    assert.equal((await s.entries(`from=${t0 + 2_000}&to=${t0 + 4_000}`)).length, 3);
    assert.equal((await s.entries(`from=${new Date(t0 + 10_000).toISOString()}`)).length, 2, "ISO dates too");
    assert.deepEqual(await s.entries("schedule=nightly"), []);
    assert.deepEqual(await s.entries("outcome=refused"), []);
    assert.equal((await s.call("GET", "/audit", { token: "reader" })).status, 403);
    assert.deepEqual((await s.entries("outcome=refused")).map((e) => [e.action, e.actor]), [["auth.forbidden", "rita"]]);
    await s.close();
  });

  test("GET /audit/export: every match streamed as JSON lines or CSV", async () => {
    const s = await server();
    for (let i = 0; i < 30; i++) await s.call("POST", "/queues/emails/jobs", { body: job });
    await s.call("POST", "/queues/emails/pause", { headers: { "x-request-id": "=2+3" } });
    const jsonl = await s.call("GET", "/audit/export?action=job.enqueue", { token: "auditor" });
    assert.equal(jsonl.status, 200);
    assert.match(jsonl.headers.get("content-type")!, /^application\/x-ndjson/);
    assert.match(jsonl.headers.get("content-disposition")!, /audit\.jsonl/);
    const lines = jsonl.text.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(lines.length, 30);
    assert.deepEqual(lines.map((e) => e.jobId).slice(0, 3), ["30", "29", "28"]);
    const csv = await s.call("GET", "/audit/export?format=csv&action=queue.pause", { token: "auditor" });
    assert.match(csv.headers.get("content-type")!, /^text\/csv/);
    const [header, row, end] = csv.text.split("\r\n");
    assert.equal(header, "cursor,at,time,actor,actorType,action,outcome,queue,jobId,scheduleId,ip,requestId,details");
    assert.match(row!, /,ada,user,queue\.pause,ok,emails,,,203\.0\.113\.7,'=2\+3,$/, "a cell a spreadsheet would run is written as text");
    const enqueued = await s.call("GET", "/audit/export?format=csv&action=job.enqueue", { token: "auditor" });
    assert.match(enqueued.text, /,"\{""name"":""email""\}"\r\n/, "details as quoted JSON");
    assert.equal(end, "");
    assert.equal((await s.call("GET", "/audit/export", { token: "reader" })).status, 403);
    await s.close();
  });

  test("/openapi.json describes the audit routes and their scope; audit off records nothing and still reads", async () => {
    const s = await server({ audit: false });
    const doc = (await s.call("GET", "/openapi.json")).json;
    assert.equal(doc.paths["/audit"].get["x-scope"], "audit:read");
    assert.equal(doc.paths["/audit/export"].get["x-scope"], "audit:read");
    const names = doc.paths["/audit"].get.parameters.map((p: { name: string }) => p.name);
    for (const name of ["from", "to", "actor", "action", "queue", "job", "schedule", "before", "after", "limit"]) assert.ok(names.includes(name), name);
    await s.call("POST", "/queues/emails/jobs", { body: job });
    await s.call("POST", "/queues/emails/pause", { token: "reader" });
    assert.deepEqual(await s.entries(), []);
    assert.ok((await s.call("POST", "/queues/emails/pause")).headers.get("x-request-id"), "ids are given with or without the log");
    await s.close();
  });
});

test("a write route without an audit entry stops createApp, audit on or off", () => {
  const stray = { method: "post", path: "/queues/:queue/frobnicate", summary: "", tag: "", scope: "jobs:write", handle: () => ({}) } as const;
  assert.throws(() => auditedRoutes([stray], null), /POST \/queues\/:queue\/frobnicate has no audit entry/);
  assert.deepEqual(auditedRoutes([{ ...stray, method: "get" }], null).length, 1, "reads need none");
});
