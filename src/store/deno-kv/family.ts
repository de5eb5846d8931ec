import type { Job } from "../../core/job.ts";
import * as machine from "../../core/transitions.ts";
import { aftermath, type Effect, removalAftermath, settleChild } from "../../core/workflow-rules.ts";
import type { ChildOutcome, Family, JobRef, ParentLink } from "../../core/workflow.ts";
import type { QueueKeys } from "./keys.ts";
import { collect, type DenoKv } from "./kv.ts";

/**
 * A parent's family in Deno KV. A batch may have 10,000 children, and their refs and outcomes
 * would make the parent's record far larger than the 64 KiB a value may hold, so the record
 * keeps only the counts: the refs live in chunks under `children(id)` (written once, with the
 * flow), each outcome under `outcomes(id)` (one entry per settle, in the same commit). The
 * store hands callers the whole family, read back from those keys.
 */

/** The family as stored in the parent's record: `children` and `outcomes` are empty. */
export interface StoredFamily extends Family {
  /** How many children the parent has. */
  readonly total: number;
  /** How many outcomes are stored under `outcomes(id)`. */
  readonly recorded: number;
}

/** Refs per chunk: 100 refs of a 200-character queue name stay well under 64 KiB. */
export const CHILDREN_PER_CHUNK = 100;

/** Cancel a parent's children, read from its chunks: what `aftermath`'s per-child cancels become here. */
export interface CancelChildren {
  readonly kind: "cancel-children";
  readonly parent: JobRef;
  readonly total: number;
  /** Index of the first child not cancelled yet. */
  readonly next: number;
}

/** An effect as the Deno KV store keeps it. */
export type StoredEffect = Effect | CancelChildren;

const NO_CHILDREN: readonly JobRef[] = Object.freeze([]);
const NO_OUTCOMES: readonly ChildOutcome[] = Object.freeze([]);

export function storedFamily(family: Family): StoredFamily {
  return {
    children: NO_CHILDREN,
    pending: family.pending,
    failed: family.failed,
    outcomes: NO_OUTCOMES,
    batch: family.batch,
    total: family.children.length,
    recorded: family.outcomes.length,
  };
}

export function chunksOf(refs: readonly JobRef[]): JobRef[][] {
  const chunks: JobRef[][] = [];
  for (let i = 0; i < refs.length; i += CHILDREN_PER_CHUNK) chunks.push(refs.slice(i, i + CHILDREN_PER_CHUNK));
  return chunks;
}

function storedOf(job: Job): StoredFamily | null {
  const family = job.flow?.family;
  return family && "total" in family ? family as StoredFamily : null;
}

/** The job with its whole family (refs and outcomes read back); any other job as it is. */
export async function expandFamily(kv: DenoKv, keys: QueueKeys, job: Job): Promise<Job> {
  const family = storedOf(job);
  if (!family) return job;
  const [chunks, outcomes] = await Promise.all([
    collect(kv.list<JobRef[]>({ prefix: keys.children(job.id) })),
    family.recorded === 0
      ? []
      : collect(kv.list<ChildOutcome>({ prefix: keys.outcomes(job.id) }, { limit: family.recorded })),
  ]);
  const whole: Family = {
    children: chunks.flatMap((entry) => entry.value).slice(0, family.total),
    pending: family.pending,
    failed: family.failed,
    outcomes: outcomes.map((entry) => entry.value),
    batch: family.batch,
  };
  return { ...job, flow: { ...job.flow!, family: whole } };
}

/**
 * `settleChild` on a stored parent. The rule reads only how many children there are (so it
 * is given a list of the right length, with no entries) and appends to the outcomes (so it is
 * given none, and what it appends is what this settle adds). Null when the parent no longer waits.
 */
export function settleStored(
  parent: Job,
  link: ParentLink,
  child: ChildOutcome,
  now: number,
  seq: number,
): { job: Job; transition: machine.Transition; added: readonly ChildOutcome[] } | null {
  const family = storedOf(parent);
  if (!family) return null;
  const view: Job = {
    ...parent,
    flow: { ...parent.flow!, family: { ...family, children: new Array<JobRef>(family.total), outcomes: [] } },
  };
  const transition = settleChild(view, link, child, now);
  if (transition === null) return null;
  const next = transition.patch.flow?.family ?? view.flow!.family!;
  const stored: StoredFamily = {
    ...storedFamily(next),
    total: family.total,
    recorded: family.recorded + next.outcomes.length,
  };
  const patch = { ...transition.patch, flow: { ...transition.patch.flow!, family: stored } };
  return { job: machine.applied(parent, { ...transition, patch }, seq), transition, added: next.outcomes };
}

const PROBE: JobRef = Object.freeze({ queue: "", id: "" });

/**
 * What a job that ended (or was removed) sets off, by the core's rules. A stored parent lists
 * no children, so it is shown to the rules with one stand-in child: a cancel of the stand-in
 * means "cancel every child", which the store does from the chunks, a slice per commit.
 */
export function endEffects(job: Job, now: number, removed = false): StoredEffect[] {
  const family = storedOf(job);
  const shown: Job = family ? { ...job, flow: { ...job.flow!, family: { ...family, children: [PROBE] } } } : job;
  const effects = removed ? removalAftermath(shown, now) : aftermath(shown, now);
  return effects.map((effect): StoredEffect =>
    effect.kind === "cancel" && effect.ref === PROBE
      ? { kind: "cancel-children", parent: { queue: job.queue, id: job.id }, total: family!.total, next: 0 }
      : effect
  );
}
