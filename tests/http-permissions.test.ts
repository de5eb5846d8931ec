// Permissions on the HTTP app, with signed JWTs: roles, per-queue create/update/delete,
// tenant-scoped records (404 for another tenant's job, absent from lists, counts and SSE),
// hidden data fields, typed and audited 403s, the config checked at createApp.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SignJWT } from "jose";
import * as v from "valibot";
import { type AuditEntry, createConveyor, defineJob, FakeClock, isConveyorError } from "../mod.ts";
import { createApp, type PermissionOptions } from "../http.ts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const email = defineJob("email", v.object({ to: v.string() }));
const sms = defineJob("sms", v.object({ to: v.string() }));

const PERMISSIONS: PermissionOptions = {
  roles: {
    mailer: [{ action: "jobs:create", queue: "emails" }],
    support: ["jobs:read@tenant", { action: "jobs:update", records: "tenant" }],
    tenantAdmin: ["jobs:read@tenant", "jobs:write@tenant", "jobs:payload"],
    auditor: ["audit:read"],
  },
  fields: "hide",
};

async function server(permissions: PermissionOptions = PERMISSIONS) {
  const clock = new FakeClock();
  const conveyor = createConveyor({ clock, audit: true });
  conveyor.queue("emails").register(email);
  conveyor.queue("sms").register(sms);
  const app = createApp(conveyor, { auth: { secret: SECRET }, permissions, authFailureLimit: false });
  const token = (claims: { sub?: string; scope?: string; roles?: string[] | string; tenant?: string }) =>
    new SignJWT({ ...claims }).setProtectedHeader({ alg: "HS256" }).setSubject(claims.sub ?? "ada")
      .setExpirationTime(Math.floor(clock.now() / 1000) + 600).sign(new TextEncoder().encode(SECRET));
  const call = async (method: string, path: string, who: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${who}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch { /* a stream */ }
    return { status: res.status, json };
  };
  const tokens = {
    admin: await token({ scope: "admin", sub: "root" }),
    acmeAdmin: await token({ roles: ["tenantAdmin"], tenant: "acme", sub: "alice" }),
    globexAdmin: await token({ roles: "tenantAdmin", tenant: "globex", sub: "gus" }),
    acmeSupport: await token({ roles: ["support"], tenant: "acme", sub: "sam" }),
    mailer: await token({ roles: ["mailer"], sub: "mailer-bot" }),
    auditor: await token({ roles: ["auditor"], sub: "audrey" }),
  };
  return { clock, conveyor, app, call, token, tokens, close: () => conveyor.close({ timeoutMs: 0 }) };
}

const job = (to: string) => ({ name: "email", payload: { to } });
const ids = (jobs: { id: string }[]) => jobs.map((j) => j.id).sort();

describe("HTTP permissions", () => {
  test("per-queue create, update and delete, from scopes and from roles; 403s name the missing scopes", async () => {
    const s = await server();
    const creator = await s.token({ scope: "jobs:create:emails" });
    const updater = await s.token({ scope: "jobs:update:emails" });
    const deleter = await s.token({ scope: "jobs:delete:emails" });
    const created = await s.call("POST", "/queues/emails/jobs", creator, job("a@x.io"));
    assert.equal(created.status, 201);
    assert.equal((await s.call("POST", "/queues/emails/jobs", s.tokens.mailer, job("b@x.io"))).status, 201, "a role expands to its rules");
    const elsewhere = await s.call("POST", "/queues/sms/jobs", s.tokens.mailer, { name: "sms", payload: { to: "1" } });
    assert.deepEqual([elsewhere.status, elsewhere.json.error.code], [403, "FORBIDDEN"]);
    assert.deepEqual(elsewhere.json.error.permission, {
      action: "jobs:create", queue: "sms", missing: ["jobs:create", "jobs:write", "jobs:create:sms", "jobs:write:sms"],
    });
    assert.match(elsewhere.json.error.message, /needs the scope "jobs:create" or "jobs:write" or "jobs:create:sms" or "jobs:write:sms"/);
    const id = created.json.job.id;
    const cancelByCreator = await s.call("POST", `/queues/emails/jobs/${id}/cancel`, creator);
    assert.deepEqual([cancelByCreator.status, cancelByCreator.json.error.permission.action], [403, "jobs:update"]);
    assert.equal((await s.call("DELETE", `/queues/emails/jobs/${id}`, updater)).json.error.permission.action, "jobs:delete");
    assert.equal((await s.call("POST", `/queues/emails/jobs/${id}/cancel`, updater)).status, 200);
    assert.equal((await s.call("POST", `/queues/emails/jobs/${id}/cancel`, deleter)).status, 403);
    assert.equal((await s.call("DELETE", `/queues/emails/jobs/${id}`, deleter)).status, 200);
    assert.equal((await s.call("POST", "/queues/emails/pause", updater)).status, 200);
    assert.equal((await s.call("POST", "/queues/emails/resume", deleter)).status, 403);
    // jobs:write still grants all three: tokens made before permissions keep working.
    const writer = await s.token({ scope: "jobs:write:emails jobs:read" });
    const old = (await s.call("POST", "/queues/emails/jobs", writer, job("c@x.io"))).json.job;
    assert.equal((await s.call("POST", `/queues/emails/jobs/${old.id}/cancel`, writer)).status, 200);
    assert.equal((await s.call("DELETE", `/queues/emails/jobs/${old.id}`, writer)).status, 200);
    await s.close();
  });

  test("a tenant-scoped caller sees only its tenant's jobs: by id (404), in lists, counts and dead letters", async () => {
    const s = await server();
    const acme = (await s.call("POST", "/queues/emails/jobs", s.tokens.acmeAdmin, job("a@acme.io"))).json.job;
    const acme2 = (await s.call("POST", "/queues/emails/jobs", s.tokens.acmeAdmin, job("b@acme.io"))).json.job;
    const globex = (await s.call("POST", "/queues/emails/jobs", s.tokens.globexAdmin, job("g@globex.io"))).json.job;
    assert.equal(acme.createdBy, "tenant:acme/alice", "the tenant and subject are recorded at enqueue");

    const theirs = await s.call("GET", `/queues/emails/jobs/${globex.id}`, s.tokens.acmeSupport);
    const none = await s.call("GET", "/queues/emails/jobs/no-such-job", s.tokens.acmeSupport);
    assert.deepEqual([theirs.status, theirs.json.error.code], [404, "JOB_NOT_FOUND"], "404, not 403: existence is not told");
    assert.deepEqual([none.status, none.json.error.code], [404, "JOB_NOT_FOUND"]);
    assert.deepEqual(Object.keys(theirs.json.error), Object.keys(none.json.error));
    assert.equal((await s.call("GET", `/queues/emails/jobs/${acme.id}`, s.tokens.acmeSupport)).status, 200);

    const list = await s.call("GET", "/queues/emails/jobs?state=waiting", s.tokens.acmeSupport);
    assert.deepEqual(ids(list.json.jobs), ids([acme, acme2]));
    assert.equal((await s.call("GET", "/queues/emails/jobs?state=waiting&offset=1&limit=1", s.tokens.acmeSupport)).json.jobs.length, 1);
    assert.deepEqual(ids((await s.call("GET", "/queues/emails/jobs?state=waiting", s.tokens.admin)).json.jobs), ids([acme, acme2, globex]));
    const queues = (await s.call("GET", "/queues", s.tokens.acmeSupport)).json.queues;
    assert.deepEqual(queues.map((q: { name: string; counts: { waiting: number } }) => [q.name, q.counts.waiting]), [["emails", 2], ["sms", 0]]);
    assert.equal((await s.call("GET", "/queues", await s.token({ scope: "jobs:read:sms" }))).status, 403, "as before: /queues needs jobs:read on every queue");

    // Writes keep to the tenant too: another tenant's job is not found; queue-wide actions need every record.
    const cancelTheirs = await s.call("POST", `/queues/emails/jobs/${globex.id}/cancel`, s.tokens.acmeSupport);
    assert.deepEqual([cancelTheirs.status, cancelTheirs.json.error.code], [404, "JOB_NOT_FOUND"]);
    assert.equal((await s.call("DELETE", `/queues/emails/jobs/${globex.id}`, s.tokens.acmeAdmin)).status, 404);
    assert.equal((await s.call("GET", `/queues/emails/jobs/${globex.id}`, s.tokens.admin)).status, 200, "still there");
    assert.equal((await s.call("POST", `/queues/emails/jobs/${acme.id}/cancel`, s.tokens.acmeSupport)).status, 200);
    const pause = await s.call("POST", "/queues/emails/pause", s.tokens.acmeAdmin);
    assert.deepEqual([pause.status, pause.json.error.permission.action], [403, "jobs:update"]);
    assert.match(pause.json.error.message, /on every job of the queue/);
    assert.equal((await s.call("DELETE", "/queues/emails/dead", s.tokens.acmeAdmin)).status, 403);
    assert.deepEqual((await s.call("GET", "/queues/emails/dead", s.tokens.acmeAdmin)).json.jobs, []);
    assert.equal((await s.call("GET", "/queues/emails/jobs?state=waiting", await s.token({ roles: ["support"], sub: "x" }))).status, 403, "@tenant without a tenant claim grants nothing");
    await s.close();
  });

  test("a tenant-scoped SSE stream carries its tenant's events only", async () => {
    const s = await server();
    const res = await s.app.request("/queues/emails/events?types=enqueued", { headers: { authorization: `Bearer ${s.tokens.acmeSupport}` } });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: ready")) text += (await reader.read()).value ?? "";
    const globex = (await s.call("POST", "/queues/emails/jobs", s.tokens.globexAdmin, job("g@globex.io"))).json.job;
    const acme = (await s.call("POST", "/queues/emails/jobs", s.tokens.acmeAdmin, job("a@acme.io"))).json.job;
    const jobIds = () => [...text.matchAll(/^data: (.*)\n/gm)].map((m) => JSON.parse(m[1]!).jobId).filter(Boolean);
    while (!jobIds().includes(acme.id)) text += (await reader.read()).value ?? "";
    await reader.cancel();
    assert.notEqual(acme.id, globex.id);
    assert.deepEqual(jobIds(), [acme.id], "another tenant's job never appears, though it was enqueued first");
    await s.close();
  });

  test("payload, result, progress, steps and logs are left out without jobs:payload, and listed in `hidden`", async () => {
    const s = await server();
    const added = await s.call("POST", "/queues/emails/jobs", s.tokens.acmeAdmin, job("secret-address@acme.io"));
    assert.equal(added.json.job.payload.to, "secret-address@acme.io", "the tenant admin has jobs:payload");
    const seen = (await s.call("GET", `/queues/emails/jobs/${added.json.job.id}`, s.tokens.acmeSupport)).json.job;
    assert.equal(seen.id, added.json.job.id);
    for (const field of ["payload", "result", "progress", "steps", "logs"]) assert.ok(!(field in seen), `${field} left out`);
    assert.deepEqual([...seen.hidden].sort(), ["logs", "payload", "progress", "result", "steps"]);
    const listed = (await s.call("GET", "/queues/emails/jobs?state=waiting", s.tokens.acmeSupport)).json.jobs[0];
    assert.ok(!("payload" in listed) && listed.hidden.includes("payload"));
    // With the default ("redact"), the same reader gets the payload with secrets replaced, as before.
    const r = await server({ roles: PERMISSIONS.roles });
    const again = await r.call("POST", "/queues/emails/jobs", r.tokens.acmeAdmin, job("a@acme.io"));
    const redacted = (await r.call("GET", `/queues/emails/jobs/${again.json.job.id}`, r.tokens.acmeSupport)).json.job;
    assert.equal(redacted.payload.to, "a@acme.io");
    assert.equal(redacted.hidden, undefined);
    await Promise.all([s.close(), r.close()]);
  });

  test("denials are audited with the action and the missing scopes; @own reads its own audit entries", async () => {
    const s = await server();
    await s.call("POST", "/queues/sms/jobs", s.tokens.mailer, { name: "sms", payload: { to: "1" } });
    await s.call("POST", "/queues/emails/jobs", s.tokens.mailer, job("m@x.io"));
    const page = await s.call("GET", "/audit?action=auth.forbidden", s.tokens.auditor);
    const entry = page.json.entries[0] as AuditEntry;
    assert.deepEqual([entry.action, entry.outcome, entry.actor, entry.queue], ["auth.forbidden", "refused", "mailer-bot", "sms"]);
    assert.deepEqual(entry.details, {
      method: "POST", path: "/queues/sms/jobs", code: "FORBIDDEN", action: "jobs:create",
      missing: ["jobs:create", "jobs:write", "jobs:create:sms", "jobs:write:sms"],
    });
    const own = await s.call("GET", "/audit", await s.token({ scope: "audit:read@own", sub: "mailer-bot" }));
    assert.ok(own.json.entries.length >= 2 && own.json.entries.every((e: AuditEntry) => e.actor === "mailer-bot"));
    assert.equal((await s.call("GET", "/audit", await s.token({ scope: "audit:read@tenant", tenant: "acme" }))).status, 403);
    await s.close();
  });

  test("the OpenAPI document names each route's permission and the hidden fields", async () => {
    const s = await server();
    const doc = await (await s.app.request("/openapi.json")).json() as any;
    const add = doc.paths["/queues/{queue}/jobs"].post;
    assert.deepEqual([add["x-scope"], add["x-permission"]], ["jobs:write", "jobs:create"]);
    assert.equal(doc.paths["/queues/{queue}/jobs/{id}"].delete["x-permission"], "jobs:delete");
    assert.equal(doc.paths["/queues/{queue}/jobs/{id}/cancel"].post["x-permission"], "jobs:update");
    const read = doc.paths["/queues/{queue}/jobs/{id}"].get;
    assert.equal(read["x-field-permission"], "jobs:payload");
    assert.match(read.description, /"hidden"/);
    assert.deepEqual(doc.components.schemas.HiddenFields.items.enum, ["payload", "result", "progress", "steps", "logs"]);
    await s.close();
  });

  test("a wrong permission config fails createApp with a VALIDATION_FAILED ConveyorError", () => {
    const conveyor = createConveyor();
    assert.throws(
      () => createApp(conveyor, { auth: { secret: SECRET }, permissions: { roles: { ops: [{ action: "jobs:read", records: "team" }] } } as never }),
      (error: unknown) => isConveyorError(error, "VALIDATION_FAILED") && error.issues!.some((i) => i.path.startsWith("permissions.roles.ops.0")),
    );
    return conveyor.close();
  });
});
