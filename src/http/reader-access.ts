import * as v from "valibot";
import type { ReaderAccess, Redactor } from "../core/redaction.ts";
import { type Caller, permits, requireScope } from "./auth.ts";
import type { Permissions } from "./permission-config.ts";

/**
 * What a caller may read of job data. Payloads, results, progress and step results are served as
 * stored to a caller with `jobs:payload` (or `jobs:payload:<queue>`, or `admin`), redacted to any
 * other (or left out, with `permissions.fields: "hide"`); stacks only when asked for
 * (`?stacks=true`) by a caller with `jobs:stacks` (or `jobs:stacks:<queue>`, or `admin`): a
 * stack names files, lines and sometimes values.
 */
export const PAYLOAD_SCOPE = "jobs:payload";
export const STACKS_SCOPE = "jobs:stacks";

/** The data fields a caller without the payload scope does not get with `fields: "hide"`. */
export const HIDDEN_FIELDS = Object.freeze(["payload", "result", "progress", "steps", "logs"] as const);

/** A reader's access, and whether data fields it may not see are left out rather than redacted. */
export interface HttpAccess extends ReaderAccess {
  readonly hide: boolean;
}

/** `?stacks=true` on routes that serve job errors. */
export const StacksQuery = {
  stacks: v.optional(v.pipe(v.picklist(["true", "false"]), v.transform((flag) => flag === "true"))),
};

/** The caller's access on `queue` (all queues when none); asking for stacks without the scope is a 403. */
export function readerAccess(caller: Caller, queue: string | undefined, askedForStacks: boolean, permissions: Permissions | null = null): HttpAccess {
  if (askedForStacks) requireScope(caller, STACKS_SCOPE, queue);
  const payloads = permits(caller, PAYLOAD_SCOPE, queue);
  return { payloads, stacks: askedForStacks, hide: !payloads && permissions?.fields === "hide" };
}

const HIDDEN = new Set<string>(HIDDEN_FIELDS);

/** Data fields out, their names in `hidden`; on every object of the answer (jobs, events, schedules). */
function withoutData(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || depth > 64) return value;
  if (Array.isArray(value)) return value.map((item) => withoutData(item, depth + 1));
  const out: Record<string, unknown> = {};
  const hidden: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (HIDDEN.has(key)) hidden.push(key);
    else Object.defineProperty(out, key, { value: withoutData(item, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  if (hidden.length > 0) out.hidden = hidden;
  return out;
}

/** An answer as this reader sees it: redacted, then its data fields left out when `access.hide`. */
export function readerView<T>(redactor: Redactor, value: T, access: HttpAccess): T {
  const seen = redactor.forReader(value, access);
  return (access.hide ? withoutData(seen) : seen) as T;
}
