import * as v from "valibot";
import type { ReaderAccess } from "../core/redaction.ts";
import { type Caller, permits, requireScope } from "./auth.ts";

/**
 * What a caller may read of job data. Payloads, results, progress and step results are served as
 * stored to a caller with `jobs:payload` (or `jobs:payload:<queue>`, or `admin`), redacted to any
 * other; stacks only when asked for (`?stacks=true`) by a caller with `jobs:stacks` (or
 * `jobs:stacks:<queue>`, or `admin`): a stack names files, lines and sometimes values.
 */
export const PAYLOAD_SCOPE = "jobs:payload";
export const STACKS_SCOPE = "jobs:stacks";

/** `?stacks=true` on routes that serve job errors. */
export const StacksQuery = {
  stacks: v.optional(v.pipe(v.picklist(["true", "false"]), v.transform((flag) => flag === "true"))),
};

/** The caller's access on `queue` (all queues when none); asking for stacks without the scope is a 403. */
export function readerAccess(caller: Caller, queue: string | undefined, askedForStacks: boolean): ReaderAccess {
  if (askedForStacks) requireScope(caller, STACKS_SCOPE, queue);
  return { payloads: permits(caller, PAYLOAD_SCOPE, queue), stacks: askedForStacks };
}
