import type { ConveyorEventData } from "./events.ts";
import type { ErrorInfo } from "./errors.ts";
import type { Job, NewJob } from "./job.ts";
import { finalFailure, type JobPatch, requeue, settled, type Transition } from "./transitions.ts";
import type { ChainRest, ChainStep, ChildOutcome, Family, FlowNode, JobFlow, JobRef, ParentLink, PreviousStep } from "./workflow.ts";

/**
 * The rules of workflows, as pure functions beside the job state machine: what a job that
 * ended sets off (the next chain step, its parent's bookkeeping, its children's cancellation),
 * and what a child's end does to its parent. A store applies the effects inside the same atomic
 * transition that ended the job, so a crash can neither lose nor double a step.
 */

/** Something a transition leaves for another job, applied by the store in the same atomic step. */
export type Effect =
  /** Enqueue the next chain step. */
  | { readonly kind: "enqueue"; readonly queue: string; readonly job: NewJob }
  /** Tell a parent one of its children ended. */
  | { readonly kind: "settle"; readonly parent: ParentLink; readonly child: ChildOutcome }
  /** Cancel a child of a parent that ended before it (a no-op when the child has finished). */
  | { readonly kind: "cancel"; readonly ref: JobRef };

const NO_EFFECTS: readonly Effect[] = Object.freeze([]);

/** What a job that has just finished (as the transition left it) sets off; none outside workflows. */
export function aftermath(job: Job, now: number): readonly Effect[] {
  const flow = job.flow;
  if (flow === null || flow === undefined) return NO_EFFECTS;
  const effects: Effect[] = [];
  if (flow.chain !== null) {
    const next = nextStep(job, flow.chain, now);
    if (next) effects.push(next);
  }
  if (flow.parent !== null) effects.push({ kind: "settle", parent: flow.parent, child: outcomeOf(job) });
  if (flow.family !== null && job.state !== "completed" && flow.family.pending > 0) {
    for (const ref of flow.family.children) effects.push({ kind: "cancel", ref });
  }
  return effects;
}

/**
 * What removing a job by hand sets off: a pending child counts as cancelled for its parent,
 * and a parent still waiting takes its children with it. Chains do not go on.
 */
export function removalAftermath(job: Job, now: number): readonly Effect[] {
  if (!job.flow || (job.state !== "waiting" && job.state !== "delayed" && job.state !== "waiting-children")) return NO_EFFECTS;
  return aftermath({ ...job, state: "cancelled", flow: { ...job.flow, chain: null } }, now);
}

function outcomeOf(job: Job): ChildOutcome {
  return job.state === "completed"
    ? { queue: job.queue, id: job.id, name: job.name, state: job.state, result: job.result }
    : { queue: job.queue, id: job.id, name: job.name, state: job.state, error: job.lastError };
}

/** The chain step a finished job hands on to: then after success, catch after failure, finally last. A cancelled job ends its chain. */
function nextStep(job: Job, chain: ChainRest, now: number): Effect | null {
  if (job.state === "completed") {
    const previous: PreviousStep = { queue: job.queue, id: job.id, name: job.name, state: "completed", result: job.result };
    const [then, ...rest] = chain.then;
    if (then) return enqueueStep(then, job.result, { then: rest, catch: chain.catch, finally: chain.finally }, previous, now);
    if (chain.finally) return enqueueStep(chain.finally, { state: "completed", result: job.result }, null, previous, now);
    return null;
  }
  if (job.state !== "failed" && job.state !== "dead") return null;
  const previous: PreviousStep = { queue: job.queue, id: job.id, name: job.name, state: job.state, error: job.lastError };
  if (chain.catch) {
    const rest: ChainRest | null = chain.finally ? { then: [], catch: null, finally: chain.finally } : null;
    return enqueueStep(chain.catch, job.lastError, rest, previous, now);
  }
  if (chain.finally) return enqueueStep(chain.finally, { state: job.state, error: job.lastError }, null, previous, now);
  return null;
}

function enqueueStep(step: ChainStep, inherited: unknown, rest: ChainRest | null, previous: PreviousStep, now: number): Effect {
  const chain = rest !== null && (rest.then.length > 0 || rest.catch !== null || rest.finally !== null) ? rest : null;
  const job: NewJob = {
    ...step.job,
    id: null,
    payload: step.inherit ? inherited ?? null : step.job.payload,
    createdAt: now,
    runAt: now + step.delayMs,
    flow: { chain, previous, parent: null, family: null },
  };
  return { kind: "enqueue", queue: step.queue, job };
}

/**
 * A parent hears that one of its children ended. Null when the parent no longer waits (it
 * failed already, or was cancelled or removed): the news changes nothing.
 */
export function settleChild(parent: Job, link: ParentLink, child: ChildOutcome, now: number): Transition | null {
  const family = parent.flow?.family;
  if (parent.state !== "waiting-children" || !family || family.pending <= 0) return null;
  const failed = child.state !== "completed";
  const next: Family = {
    children: family.children,
    pending: family.pending - 1,
    failed: family.failed + (failed ? 1 : 0),
    outcomes: failed && link.onFailure === "ignore" ? family.outcomes : [...family.outcomes, child],
    batch: family.batch,
  };
  const flow: JobFlow = { ...parent.flow!, family: next };
  const events: ConveyorEventData[] = [{
    type: next.batch ? "batch.progress" : "flow.progress", queue: parent.queue, at: now, jobId: parent.id, name: parent.name,
    total: next.children.length, pending: next.pending, failed: next.failed, child: { queue: child.queue, id: child.id, state: child.state },
  }];
  if (failed && link.onFailure === "fail") {
    const lastError: ErrorInfo = { name: "ConveyorError", code: "CHILD_FAILED", message: `child ${child.id} on queue "${child.queue}" ended ${child.state}` };
    events.push({ type: "failed", queue: parent.queue, at: now, jobId: parent.id, name: parent.name, attempt: parent.attemptsMade, error: lastError, final: true });
    return finalFailure(parent, parent.attemptsMade, "child-failed", { flow, lastError }, now, events);
  }
  if (next.pending > 0) {
    return { state: "waiting-children", patch: { flow }, requeued: false, releasesDedup: false, retention: null, events };
  }
  if (!next.batch) {
    events.push({ type: "enqueued", queue: parent.queue, at: now, jobId: parent.id, name: parent.name, runAt: now, priority: parent.priority });
    return requeue(now, now, { flow }, events);
  }
  return endBatch(parent, next, flow, now, events);
}

/** A batch whose children have all ended: completed when none failed, else failed (so `catch` runs). */
function endBatch(parent: Job, family: Family, flow: JobFlow, now: number, events: ConveyorEventData[]): Transition {
  const total = family.children.length;
  if (family.failed === 0) {
    const result = { total, completed: total, failed: 0 };
    events.push({ type: "completed", queue: parent.queue, at: now, jobId: parent.id, name: parent.name, attempt: 1, result, durationMs: now - parent.createdAt });
    return settled("completed", now, { flow, result, attemptsMade: 1 } satisfies JobPatch, parent.removeOnComplete, events);
  }
  const lastError: ErrorInfo = { name: "ConveyorError", code: "BATCH_FAILED", message: `${family.failed} of ${total} jobs of the batch failed` };
  events.push({ type: "failed", queue: parent.queue, at: now, jobId: parent.id, name: parent.name, attempt: 1, error: lastError, final: true });
  return finalFailure(parent, 1, "child-failed", { flow, lastError, attemptsMade: 1 }, now, events);
}

/**
 * Each flow node's links once the store has given every node its id (`refs`, in node order):
 * its parent, its children (a parent starts with all of them pending), and its chain.
 */
export function flowLinks(nodes: readonly FlowNode[], refs: readonly JobRef[]): JobFlow[] {
  const children = nodes.map(() => [] as JobRef[]);
  nodes.forEach((node, i) => {
    if (node.parent !== null) children[node.parent]!.push(refs[i]!);
  });
  return nodes.map((node, i) => {
    const parent = node.parent === null ? null : refs[node.parent]!;
    const kids = children[i]!;
    return {
      chain: node.job.flow?.chain ?? null,
      previous: null,
      parent: parent && { queue: parent.queue, id: parent.id, onFailure: node.onFailure },
      family: kids.length === 0 ? null : { children: kids, pending: kids.length, failed: 0, outcomes: [], batch: node.batch },
    };
  });
}
