import type { ErrorInfo } from "./errors.ts";
import type { JobState, NewJob } from "./job.ts";

/**
 * How jobs wait for each other: chains (a step enqueued by the transition that ends the one
 * before), and parents that wait for children (flows and batches). These are the stored shapes;
 * the rules that act on them are in workflow-rules.ts.
 */

/** A job somewhere in the store. */
export interface JobRef {
  readonly queue: string;
  readonly id: string;
}

/** What a failed child does to its parent: fail it at once, be left out of its results, or be reported in them. */
export type ChildFailurePolicy = "fail" | "ignore" | "continue";

/** A chain step not enqueued yet: the job as the producer built it, less its times. */
export interface ChainStep {
  readonly queue: string;
  readonly job: Omit<NewJob, "id" | "createdAt" | "runAt" | "flow" | "payload"> & { readonly payload: unknown };
  /** Due this long after the step before ends. */
  readonly delayMs: number;
  /**
   * True when the payload is what the step before left: its result (a `then` step), its error
   * (`catch`), or its outcome `{ state, result | error }` (`finally`).
   */
  readonly inherit: boolean;
}

/** What runs after a job: the rest of its chain. */
export interface ChainRest {
  readonly then: readonly ChainStep[];
  readonly catch: ChainStep | null;
  readonly finally: ChainStep | null;
}

/** What the chain step before a job left it. */
export interface PreviousStep extends JobRef {
  readonly name: string;
  readonly state: "completed" | "failed" | "dead";
  readonly result?: unknown;
  readonly error?: ErrorInfo | null;
}

/** How one child of a parent ended, as the parent sees it. */
export interface ChildOutcome extends JobRef {
  readonly name: string;
  readonly state: JobState;
  readonly result?: unknown;
  readonly error?: ErrorInfo | null;
}

/** A parent's children: who they are and how far they got. */
export interface Family {
  readonly children: readonly JobRef[];
  /** Children not finished yet. */
  readonly pending: number;
  /** Children that ended failed, dead or cancelled. */
  readonly failed: number;
  /** How each finished child ended, in the order they finished (failures of `ignore` children left out). */
  readonly outcomes: readonly ChildOutcome[];
  /** A batch: the parent has no handler and ends by itself once its children have. */
  readonly batch: boolean;
}

/** A child's link to its parent. */
export interface ParentLink extends JobRef {
  readonly onFailure: ChildFailurePolicy;
}

/** Everything a job knows of the jobs around it; `null` on a job outside any workflow. */
export interface JobFlow {
  readonly chain: ChainRest | null;
  readonly previous: PreviousStep | null;
  readonly parent: ParentLink | null;
  readonly family: Family | null;
}

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
