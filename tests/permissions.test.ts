// checkPermission as a table: scopes (and their record limits) against actions and resources.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkPermission, jobOwner, ownerTag, parseScope } from "../http.ts";
import { parsePermissions } from "../src/http/permission-config.ts";
import { isConveyorError } from "../mod.ts";

const caller = (scopes: string, extra: { subject?: string | null; tenant?: string | null } = {}) => ({
  subject: extra.subject === undefined ? "ada" : extra.subject,
  tenant: extra.tenant === undefined ? "acme" : extra.tenant,
  scopes: new Set(scopes.split(" ").filter(Boolean)),
});
const acmeJob = { createdBy: ownerTag({ tenant: "acme", subject: "bob" }) };
const globexJob = { createdBy: ownerTag({ tenant: "globex", subject: "ada" }) };
const plainJob = { createdBy: "ada" };
const nobodysJob = { createdBy: null };

type Row = [string, ReturnType<typeof caller>, string, Parameters<typeof checkPermission>[2], "all" | "limited" | "scope" | "record"];
const rows: Row[] = [
  ["admin does anything", caller("admin"), "jobs:delete", { queue: "emails", allRecords: true }, "all"],
  ["admin does unknown actions too", caller("admin"), "billing:export", {}, "all"],
  ["no scopes, nothing", caller(""), "jobs:read", { queue: "emails" }, "scope"],
  ["jobs:read on any queue", caller("jobs:read"), "jobs:read", { queue: "emails" }, "all"],
  ["jobs:read without a queue", caller("jobs:read"), "jobs:read", {}, "all"],
  ["per-queue read on its queue", caller("jobs:read:emails"), "jobs:read", { queue: "emails" }, "all"],
  ["per-queue read on another queue", caller("jobs:read:emails"), "jobs:read", { queue: "sms" }, "scope"],
  ["per-queue read where no queue is named", caller("jobs:read:emails"), "jobs:read", {}, "scope"],
  ["queue names may hold colons", caller("jobs:read:a:b"), "jobs:read", { queue: "a:b" }, "all"],
  ["jobs:write grants create", caller("jobs:write"), "jobs:create", { queue: "emails" }, "all"],
  ["jobs:write grants update", caller("jobs:write"), "jobs:update", { queue: "emails" }, "all"],
  ["jobs:write grants delete", caller("jobs:write"), "jobs:delete", { queue: "emails" }, "all"],
  ["jobs:write:emails grants create on emails", caller("jobs:write:emails"), "jobs:create", { queue: "emails" }, "all"],
  ["jobs:write:emails not on sms", caller("jobs:write:emails"), "jobs:create", { queue: "sms" }, "scope"],
  ["create is not update", caller("jobs:create"), "jobs:update", { queue: "emails" }, "scope"],
  ["create is not delete", caller("jobs:create:emails"), "jobs:delete", { queue: "emails" }, "scope"],
  ["update is not create", caller("jobs:update"), "jobs:create", { queue: "emails" }, "scope"],
  ["jobs:create is not jobs:write", caller("jobs:create"), "jobs:write", { queue: "emails" }, "scope"],
  ["write is not read", caller("jobs:write"), "jobs:read", { queue: "emails" }, "scope"],
  ["read is not payload", caller("jobs:read"), "jobs:payload", { queue: "emails" }, "scope"],
  ["unknown actions match exactly", caller("billing:export"), "billing:export", {}, "all"],
  ["@tenant is a limited grant", caller("jobs:read@tenant"), "jobs:read", { queue: "emails" }, "limited"],
  ["@tenant sees its tenant's job", caller("jobs:read@tenant"), "jobs:read", { queue: "emails", job: acmeJob }, "limited"],
  ["@tenant does not see another tenant's", caller("jobs:read@tenant"), "jobs:read", { queue: "emails", job: globexJob }, "record"],
  ["@tenant does not see untagged jobs", caller("jobs:read@tenant"), "jobs:read", { queue: "emails", job: plainJob }, "record"],
  ["@tenant does not see nobody's jobs", caller("jobs:read@tenant"), "jobs:read", { queue: "emails", job: nobodysJob }, "record"],
  ["@tenant without a tenant claim grants nothing", caller("jobs:read@tenant", { tenant: null }), "jobs:read", { queue: "emails" }, "scope"],
  ["@tenant is not enough for every record", caller("jobs:update@tenant"), "jobs:update", { queue: "emails", allRecords: true }, "scope"],
  ["per-queue @tenant", caller("jobs:read:emails@tenant"), "jobs:read", { queue: "emails", job: acmeJob }, "limited"],
  ["per-queue @tenant, another queue", caller("jobs:read:emails@tenant"), "jobs:read", { queue: "sms", job: acmeJob }, "scope"],
  ["jobs:write@tenant grants delete of its tenant's", caller("jobs:write@tenant"), "jobs:delete", { queue: "emails", job: acmeJob }, "limited"],
  ["@own sees the subject's own (tagged)", caller("jobs:read@own"), "jobs:read", { queue: "emails", job: globexJob }, "limited"],
  ["@own sees the subject's own (plain)", caller("jobs:read@own"), "jobs:read", { queue: "emails", job: plainJob }, "limited"],
  ["@own does not see another's", caller("jobs:read@own"), "jobs:read", { queue: "emails", job: acmeJob }, "record"],
  ["@own without a subject grants nothing", caller("jobs:read@own", { subject: null }), "jobs:read", {}, "scope"],
  ["@tenant and @own: either", caller("jobs:read@tenant jobs:read@own"), "jobs:read", { queue: "emails", job: globexJob }, "limited"],
  ["an unlimited grant beside a limited one wins", caller("jobs:read@tenant jobs:read:emails"), "jobs:read", { queue: "emails", job: globexJob }, "all"],
  ["the limited one still applies elsewhere", caller("jobs:read@tenant jobs:read:emails"), "jobs:read", { queue: "sms", job: globexJob }, "record"],
];

describe("checkPermission", () => {
  for (const [name, who, action, resource, expected] of rows) {
    test(name, () => {
      const decision = checkPermission(who, action, resource);
      const got = decision.allowed ? (decision.allRecords ? "all" : "limited") : decision.reason;
      assert.equal(got, expected);
    });
  }

  test("a denial names the scopes any one of which would do", () => {
    const decision = checkPermission(caller("jobs:read"), "jobs:create", { queue: "emails" });
    assert.deepEqual(decision, { allowed: false, reason: "scope", missing: ["jobs:create", "jobs:write", "jobs:create:emails", "jobs:write:emails"] });
  });

  test("a limited grant says whose records it covers", () => {
    assert.deepEqual(checkPermission(caller("jobs:read@tenant"), "jobs:read"), { allowed: true, allRecords: false, tenant: "acme", subject: null });
    assert.deepEqual(checkPermission(caller("jobs:read@own"), "jobs:read"), { allowed: true, allRecords: false, tenant: null, subject: "ada" });
  });

  test("it is pure: the same answer every time, the caller untouched", () => {
    const who = caller("jobs:read@tenant");
    const before = JSON.stringify([...who.scopes]);
    for (let i = 0; i < 3; i++) assert.equal(checkPermission(who, "jobs:read", { job: globexJob }).allowed, false);
    assert.equal(JSON.stringify([...who.scopes]), before);
  });
});

describe("scopes, owner tags and the permission options", () => {
  test("parseScope", () => {
    assert.deepEqual(parseScope("jobs:read"), { action: "jobs:read", queue: null, records: "all" });
    assert.deepEqual(parseScope("jobs:create:emails@tenant"), { action: "jobs:create", queue: "emails", records: "tenant" });
    assert.deepEqual(parseScope("admin"), { action: "admin", queue: null, records: "all" });
    assert.deepEqual(parseScope("jobs:read@own"), { action: "jobs:read", queue: null, records: "own" });
  });

  test("owner tags round-trip; plain createdBy is a subject", () => {
    assert.equal(ownerTag({ tenant: "acme", subject: "bob@acme.io" }), "tenant:acme/bob@acme.io");
    assert.deepEqual(jobOwner("tenant:acme/bob@acme.io"), { tenant: "acme", subject: "bob@acme.io" });
    assert.deepEqual(jobOwner("tenant:/a/b"), { tenant: null, subject: "a/b" });
    assert.deepEqual(jobOwner("schedule:nightly"), { tenant: null, subject: "schedule:nightly" });
    assert.deepEqual(jobOwner(null), { tenant: null, subject: null });
  });

  test("roles become scopes; rules become scope strings", () => {
    const p = parsePermissions({ roles: { support: ["jobs:read@tenant", { action: "jobs:update", queue: "emails", records: "tenant" }, { action: "jobs:payload" }] } });
    assert.deepEqual(p.roles.get("support"), ["jobs:read@tenant", "jobs:update:emails@tenant", "jobs:payload"]);
    assert.deepEqual([p.rolesClaim, p.tenantClaim, p.fields], ["roles", "tenant", "redact"]);
  });

  for (const [name, options, path] of [
    ["a role that is not a list", { roles: { ops: "jobs:read" } }, "permissions.roles.ops"],
    ["a rule without an action", { roles: { ops: [{ queue: "emails" }] } }, "permissions.roles.ops.0"],
    ["a record limit that does not exist", { roles: { ops: [{ action: "jobs:read", records: "team" }] } }, "permissions.roles.ops.0"],
    ["an action with a limit inside", { roles: { ops: [{ action: "jobs:read@tenant" }] } }, "permissions.roles.ops.0"],
    ["a scope with a space", { roles: { ops: ["jobs:read jobs:write"] } }, "permissions.roles.ops.0"],
    ["an unknown option", { tenant: "acme" }, "permissions"],
    ["fields neither redact nor hide", { fields: "blank" }, "permissions.fields"],
  ] as const) {
    test(`a wrong config is a VALIDATION_FAILED ConveyorError: ${name}`, () => {
      assert.throws(() => parsePermissions(options), (error: unknown) => {
        assert.ok(isConveyorError(error, "VALIDATION_FAILED"));
        assert.match(error.message, /^Invalid createApp\(\) permissions: /);
        assert.ok(error.issues!.some((issue) => issue.path.startsWith(path)), JSON.stringify(error.issues));
        return true;
      });
    });
  }
});
