import * as v from "valibot";
import { ConveyorError } from "../core/errors.ts";
import { describeIssues, summarise } from "../core/validation.ts";
import type { RecordLimit } from "./permissions.ts";

/** One grant written out: `{ action: "jobs:create", queue: "emails" }` is the scope `jobs:create:emails`. */
export interface PermissionRule {
  readonly action: string;
  /** @default every queue */
  readonly queue?: string;
  /** @default "all" */
  readonly records?: RecordLimit;
}

export interface PermissionOptions {
  /** Role → what it grants: scope strings (`jobs:read:emails@tenant`) or rules. A token's roles add these to its scopes. */
  readonly roles?: Readonly<Record<string, readonly (string | PermissionRule)[]>>;
  /** Claim holding the token's roles: an array or a space-separated string. @default "roles" */
  readonly rolesClaim?: string;
  /** Claim naming the token's tenant (a string), for `@tenant` grants and recorded on the jobs it creates. @default "tenant" */
  readonly tenantClaim?: string;
  /**
   * What callers without `jobs:payload` get of `payload`, `result`, `progress`, `steps` and
   * `logs`: `"redact"` (served with secrets replaced) or `"hide"` (left out, their names listed
   * in the object's `hidden`). @default "redact"
   */
  readonly fields?: "redact" | "hide";
}

/** Permission options checked and ready: role → scope strings. */
export interface Permissions {
  readonly roles: ReadonlyMap<string, readonly string[]>;
  readonly rolesClaim: string;
  readonly tenantClaim: string;
  readonly fields: "redact" | "hide";
}

const Token = v.pipe(v.string(), v.minLength(1), v.maxLength(300), v.regex(/^[^\s\p{Cc}]+$/u, "a scope without spaces or control characters"));
const Action = v.pipe(Token, v.check((s) => !s.includes("@"), "an action without '@' (the record limit goes in `records`)"));
const Rule = v.strictObject({
  action: Action,
  queue: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200), v.regex(/^[^\s\p{Cc}]+$/u, "a queue name"))),
  records: v.optional(v.picklist(["all", "tenant", "own"])),
});
const Claim = v.pipe(v.string(), v.minLength(1), v.maxLength(100));

export const PermissionOptionsSchema = v.strictObject({
  roles: v.optional(v.record(v.pipe(v.string(), v.minLength(1), v.maxLength(100)), v.array(v.union([Token, Rule])))),
  rolesClaim: v.optional(Claim),
  tenantClaim: v.optional(Claim),
  fields: v.optional(v.picklist(["redact", "hide"])),
});

const ruleScope = (rule: PermissionRule) =>
  `${rule.action}${rule.queue === undefined ? "" : `:${rule.queue}`}${rule.records === undefined || rule.records === "all" ? "" : `@${rule.records}`}`;

/** Checks `createApp({ permissions })`; a wrong one is a VALIDATION_FAILED ConveyorError that says where. */
export function parsePermissions(options: unknown): Permissions {
  const result = v.safeParse(PermissionOptionsSchema, options);
  if (!result.success) {
    const issues = describeIssues(result.issues).map((i) => ({ ...i, path: i.path ? `permissions.${i.path}` : "permissions" }));
    throw new ConveyorError("VALIDATION_FAILED", `Invalid createApp() permissions: ${summarise(issues)}`, { issues });
  }
  const o = result.output;
  const roles = new Map<string, string[]>();
  for (const [role, grants] of Object.entries(o.roles ?? {})) roles.set(role, grants.map((g) => (typeof g === "string" ? g : ruleScope(g))));
  return Object.freeze({ roles, rolesClaim: o.rolesClaim ?? "roles", tenantClaim: o.tenantClaim ?? "tenant", fields: o.fields ?? "redact" });
}

/** Tenants are recorded in `createdBy`: a plain name, so the tag stays readable and unambiguous. */
const TENANT = /^[A-Za-z0-9._~-]{1,100}$/;

/** Claims as the token has them: roles (string or array) and a tenant (a plain name, else none). */
export function claimsOf(permissions: Permissions, payload: Record<string, unknown>): { roles: ReadonlySet<string>; tenant: string | null } {
  const raw = payload[permissions.rolesClaim];
  const roles = new Set(typeof raw === "string" ? raw.split(" ").filter(Boolean) : Array.isArray(raw) ? raw.map(String) : []);
  const tenant = payload[permissions.tenantClaim];
  return { roles, tenant: typeof tenant === "string" && TENANT.test(tenant) ? tenant : null };
}

/** A caller with its roles' scopes added (roles the config does not name grant nothing). */
export function expandRoles<C extends { readonly scopes: ReadonlySet<string>; readonly roles?: ReadonlySet<string> }>(permissions: Permissions, caller: C): C {
  const roles = caller.roles ?? new Set<string>();
  if (roles.size === 0) return caller;
  const scopes = new Set(caller.scopes);
  for (const role of roles) for (const scope of permissions.roles.get(role) ?? []) scopes.add(scope);
  return { ...caller, scopes };
}
