import type { ChildFailurePolicy, NewJob } from "./job.ts";

export type { ChainRest, ChainStep, ChildFailurePolicy, ChildOutcome, Family, JobFlow, JobRef, ParentLink, PreviousStep } from "./job.ts";

/**
 * How jobs wait for each other: chains (a step enqueued by the transition that ends the one
 * before), and parents that wait for children (flows and batches). The stored shapes are in
 * job.ts (a job carries them as `flow`); the rules that act on them are in workflow-rules.ts.
 */

/** How deep flows nest (a parent of children of children … counts its levels). */
export const MAX_FLOW_DEPTH = 10;
/** Jobs one flow or batch may create in one call. */
export const MAX_FLOW_JOBS = 10_000;
/** Steps one chain may hold. */
export const MAX_CHAIN_STEPS = 100;

/** One job of a flow as a producer hands it to the store, parents before their children. */
export interface FlowNode {
  readonly queue: string;
  readonly job: NewJob;
  /** Index of its parent among the nodes; null for the root. */
  readonly parent: number | null;
  readonly onFailure: ChildFailurePolicy;
  /** The root of a batch: ends by itself when its children have. */
  readonly batch: boolean;
}

export interface EnqueueFlowRequest {
  readonly nodes: readonly FlowNode[];
  readonly now: number;
}
