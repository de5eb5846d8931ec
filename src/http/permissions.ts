/**
 * Who may do what, as a pure function of a caller's scopes: no HTTP, no store. The HTTP app asks
 * it on every route; users' own routes and the dashboard may ask it too.
 *
 * A scope reads `<action>[:<queue>][@tenant|@own]`:
 * - `jobs:read` any queue, `jobs:read:emails` one queue;
 * - `@tenant` only the jobs created by callers of the same tenant, `@own` only the caller's own
 *   (by token subject); no suffix, every job.
 * `admin` grants everything; `jobs:write` grants `jobs:create`, `jobs:update` and `jobs:delete`.
 */

/** Who asks: the token's subject, its scopes (roles already expanded), and its tenant when it has one. */
export interface PermissionCaller {
  readonly subject: string | null;
  readonly scopes: ReadonlySet<string>;
  readonly tenant?: string | null;
}

/** Whose a job is, as recorded at enqueue (see `ownerTag`). */
export interface JobOwner {
  readonly tenant: string | null;
  readonly subject: string | null;
}

/** What is acted on: a queue, a job (by its `createdBy`), or every record of a queue at once. */
export interface PermissionResource {
  readonly queue?: string;
  /** A job: allowed only when the caller may see it. */
  readonly job?: { readonly createdBy: string | null };
  /** The action touches every job of the queue (pause, purge): record-limited grants are not enough. */
  readonly allRecords?: boolean;
}

export type PermissionDecision =
  | {
    readonly allowed: true;
    /** Every record (true), or only those of `tenant` / `subject` (whichever is non-null). */
    readonly allRecords: boolean;
    readonly tenant: string | null;
    readonly subject: string | null;
  }
  | {
    readonly allowed: false;
    /** `scope`: no grant for the action; `record`: a grant, but not for this job (answer it as not found). */
    readonly reason: "scope" | "record";
    /** Scopes any one of which would have allowed it. */
    readonly missing: readonly string[];
  };

/** Actions the app itself checks. Any other string works too, matched exactly. */
export const ACTIONS = Object.freeze([
  "jobs:read", "jobs:create", "jobs:update", "jobs:delete", "jobs:payload", "jobs:stacks",
  "schedules:read", "schedules:write", "audit:read", "ops:read",
] as const);

/** Broader scopes that include an action. */
const IMPLIED_BY: Readonly<Record<string, readonly string[]>> = Object.freeze({
  "jobs:create": ["jobs:write"],
  "jobs:update": ["jobs:write"],
  "jobs:delete": ["jobs:write"],
});

export type RecordLimit = "all" | "tenant" | "own";

interface Grant {
  readonly action: string;
  readonly queue: string | null;
  readonly records: RecordLimit;
}

/** A scope string as a grant: `jobs:read:emails@tenant` → jobs:read on emails, tenant's records. */
export function parseScope(scope: string): Grant {
  let body = scope;
  let records: RecordLimit = "all";
  if (body.endsWith("@tenant")) [body, records] = [body.slice(0, -7), "tenant"];
  else if (body.endsWith("@own")) [body, records] = [body.slice(0, -4), "own"];
  const parts = body.split(":");
  if (parts.length <= 2) return { action: body, queue: null, records };
  return { action: `${parts[0]}:${parts[1]}`, queue: parts.slice(2).join(":"), records };
}

/** Parsed grants per scope set: a caller's set is reused for every request its token makes. */
const parsedGrants = new WeakMap<ReadonlySet<string>, readonly Grant[]>();
function grantsOf(scopes: ReadonlySet<string>): readonly Grant[] {
  let grants = parsedGrants.get(scopes);
  if (!grants) parsedGrants.set(scopes, grants = [...scopes].map(parseScope));
  return grants;
}

const TENANT_TAG = /^tenant:([^/]*)\/(.*)$/s;

/**
 * What the HTTP app records as a job's `createdBy` when permissions are configured:
 * `tenant:<tenant>/<subject>` (either may be empty), so the owner survives every store as it is.
 */
export function ownerTag(caller: Pick<PermissionCaller, "subject" | "tenant">): string {
  return `tenant:${caller.tenant ?? ""}/${caller.subject ?? ""}`.slice(0, 256);
}

/** A job's owner from its `createdBy`: tagged (above), or a plain subject (jobs made without permissions). */
export function jobOwner(createdBy: string | null): JobOwner {
  if (createdBy === null) return { tenant: null, subject: null };
  const tagged = TENANT_TAG.exec(createdBy);
  if (!tagged) return { tenant: null, subject: createdBy };
  return { tenant: tagged[1] || null, subject: tagged[2] || null };
}

/** Whether a decision's record limit lets the caller see a job. */
export function canSee(decision: Extract<PermissionDecision, { allowed: true }>, createdBy: string | null): boolean {
  if (decision.allRecords) return true;
  const owner = jobOwner(createdBy);
  return (decision.tenant !== null && owner.tenant === decision.tenant) || (decision.subject !== null && owner.subject === decision.subject);
}

/** The scopes that would allow `action` on `queue`, broadest first. */
function wanted(action: string, queue: string | undefined): string[] {
  const names = [action, ...(IMPLIED_BY[action] ?? [])];
  return [...names, ...(queue === undefined ? [] : names.map((name) => `${name}:${queue}`))];
}

/**
 * Whether `caller` may do `action` on `resource`. Pure: the same answer for the same arguments.
 * Allowed answers say which records it covers; denied ones name the scopes that were missing.
 */
export function checkPermission(caller: PermissionCaller, action: string, resource: PermissionResource = {}): PermissionDecision {
  const { queue } = resource;
  let all = caller.scopes.has("admin");
  let tenant = false;
  let own = false;
  if (!all) {
    const names = new Set([action, ...(IMPLIED_BY[action] ?? [])]);
    for (const grant of grantsOf(caller.scopes)) {
      if (!names.has(grant.action) || (grant.queue !== null && grant.queue !== queue)) continue;
      if (grant.records === "all") all = true;
      else if (grant.records === "tenant") tenant = true;
      else own = true;
    }
  }
  const tenantOf = tenant && typeof caller.tenant === "string" && caller.tenant !== "" ? caller.tenant : null;
  const subjectOf = own ? caller.subject : null;
  if (!all && (tenantOf === null && subjectOf === null || resource.allRecords)) {
    return { allowed: false, reason: "scope", missing: wanted(action, queue) };
  }
  const decision = { allowed: true, allRecords: all, tenant: all ? null : tenantOf, subject: all ? null : subjectOf } as const;
  if (resource.job && !canSee(decision, resource.job.createdBy)) return { allowed: false, reason: "record", missing: wanted(action, queue) };
  return decision;
}
