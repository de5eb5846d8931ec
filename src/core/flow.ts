import * as v from "valibot";
import { type ChainEntry, ChainParts, chainStep, signedBy } from "./chain.ts";
import type { Clock } from "./clock.ts";
import type { JobDefinition, PayloadInput } from "./define-job.ts";
import type { Job, JobState } from "./job.ts";
import { buildNewJob, type JobOptions } from "./job-options.ts";
import type { BulkEntry, Queue } from "./queue.ts";
import type { QueueStore } from "./store-contract.ts";
import { parseArgument } from "./validation.ts";
import { type ChildFailurePolicy, type FlowNode, MAX_FLOW_DEPTH, MAX_FLOW_JOBS } from "./workflow.ts";

/**
 * Flows and batches on the producer side: a tree of jobs added in one atomic call, where each
 * parent waits (`waiting-children`) until its children have ended, then runs with their results
 * (`ctx.children`). A batch is a flow whose root has no handler: it ends by itself, and its
 * `then` / `catch` / `finally` steps run as a chain after it.
 */

/** Per-job options in a flow: a flow's jobs take the store's ids and no dedup key. */
export type FlowJobOptions = Omit<JobOptions, "jobId" | "dedupKey">;

/** One job of a flow, with its children. */
export interface FlowSpec<D extends JobDefinition = JobDefinition> {
  readonly queue: string | { readonly name: string };
  readonly job: D;
  readonly payload: PayloadInput<D>;
  readonly options?: FlowJobOptions;
  /** What this job's failure does to its parent. @default "fail" */
  readonly onFailure?: ChildFailurePolicy;
  readonly children?: readonly FlowSpec[];
}

/** A flow's jobs as they were added (or as they are now, from `getFlow`). */
export interface FlowJob {
  readonly job: Job;
  readonly children: readonly FlowJob[];
}

/** One job of a batch. */
export interface BatchEntry<D extends JobDefinition = JobDefinition> {
  /** @default the batch's queue */
  readonly queue?: string | { readonly name: string };
  readonly job: D;
  readonly payload: PayloadInput<D>;
  readonly options?: FlowJobOptions;
}

export interface BatchOptions {
  /** Where the batch itself lives. @default the first job's queue */
  queue?: string | { readonly name: string };
  /** The batch job's name. @default "batch" */
  name?: string;
  /** Keep going when a job fails (the batch still ends failed, so `catch` runs); else the first failure cancels the rest. @default false */
  allowFailures?: boolean;
  /** Runs once every job completed; without a payload it gets `{ total, completed, failed }`. */
  then?: ChainEntry;
  /** Runs once the batch failed; without a payload it gets the error. */
  catch?: ChainEntry;
  /** Runs last either way; without a payload it gets `{ state, result | error }`. */
  finally?: ChainEntry;
  /** Who adds the batch, kept on the batch job and its then/catch/finally steps. @default null */
  createdBy?: string;
}

/** A batch's progress. */
export interface BatchProgress {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  readonly state: JobState;
  readonly total: number;
  /** Jobs that ended, whether they completed, failed or were cancelled. */
  readonly processed: number;
  readonly pending: number;
  readonly failed: number;
  readonly createdAt: number;
  readonly finishedAt: number | null;
}

/** What flows need of a conveyor. */
export interface FlowHost {
  readonly store: QueueStore;
  readonly clock: Clock;
  queue(name: string): Queue;
}

const QueueRef = v.union([v.string(), v.pipe(v.object({ name: v.string() }), v.transform((q) => q.name))]);
const PolicySchema = v.optional(v.picklist(["fail", "ignore", "continue"]), "fail");
const queueName = (queue: unknown, what: string) => parseArgument(QueueRef, queue, what);

function flowNewJob(host: FlowHost, queue: string, entry: BulkEntry, now: number, what: string) {
  const options = entry.options as Record<string, unknown> | undefined;
  if (options && ("jobId" in options || "dedupKey" in options)) {
    throw new TypeError(`${what}: a flow's jobs take the store's ids and no dedup key (jobId and dedupKey are not allowed)`);
  }
  return host.queue(queue).newJob(entry, now, what);
}

/** Adds a flow in one atomic call: every job, or none when one is invalid. */
export async function addFlow(host: FlowHost, root: FlowSpec): Promise<FlowJob> {
  const now = host.clock.now();
  const nodes: FlowNode[] = [];
  const ancestors = new Set<FlowSpec>();
  const walk = (spec: FlowSpec, parent: number | null, depth: number, path: string): void => {
    if (!spec || typeof spec !== "object") throw new TypeError(`${path} must be { queue, job, payload, options?, onFailure?, children? }`);
    if (ancestors.has(spec)) throw new TypeError(`${path} is one of its own ancestors: a flow is a tree, without cycles`);
    if (depth > MAX_FLOW_DEPTH) throw new RangeError(`A flow nests at most ${MAX_FLOW_DEPTH} levels deep (${path} is deeper)`);
    if (nodes.length >= MAX_FLOW_JOBS) throw new RangeError(`A flow holds at most ${MAX_FLOW_JOBS} jobs`);
    const queue = queueName(spec.queue, `${path}.queue`);
    const onFailure = parseArgument(PolicySchema, spec.onFailure, `${path}.onFailure`);
    const job = flowNewJob(host, queue, spec, now, path);
    const index = nodes.push({ queue, job, parent, onFailure, batch: false }) - 1;
    if (spec.children !== undefined && !Array.isArray(spec.children)) throw new TypeError(`${path}.children must be an array`);
    ancestors.add(spec);
    spec.children?.forEach((child, i) => walk(child, index, depth + 1, `${path}.children[${i}]`));
    ancestors.delete(spec);
  };
  walk(root, null, 1, "flow");
  const jobs = await host.store.enqueueFlow({ nodes, now });
  return tree(nodes, jobs);
}

/** The jobs as a tree, built in one pass (a flow may hold 10,000 jobs): parents come before their children. */
function tree(nodes: readonly FlowNode[], jobs: readonly Job[]): FlowJob {
  const made = jobs.map((job) => ({ job, children: [] as FlowJob[] }));
  nodes.forEach((node, i) => {
    if (node.parent !== null) made[node.parent]!.children.push(made[i]!);
  });
  return made[0]!;
}

const BatchOptionsSchema = v.strictObject({
  queue: v.optional(QueueRef),
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
  allowFailures: v.optional(v.boolean(), false),
  then: v.optional(v.looseObject({ job: v.unknown() })),
  catch: v.optional(v.looseObject({ job: v.unknown() })),
  finally: v.optional(v.looseObject({ job: v.unknown() })),
  createdBy: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
});

/** Adds a batch and its jobs in one atomic call; returns its progress (all pending). */
export async function addBatch(host: FlowHost, entries: readonly BatchEntry[], options: BatchOptions = {}): Promise<BatchProgress> {
  if (!Array.isArray(entries) || entries.length === 0) throw new TypeError("batch() expects a non-empty array of { job, payload, options?, queue? }");
  if (entries.length >= MAX_FLOW_JOBS) throw new RangeError(`A batch holds fewer than ${MAX_FLOW_JOBS} jobs`);
  const o = parseArgument(BatchOptionsSchema, options, "batch options");
  const now = host.clock.now();
  const home = o.queue ?? queueName(entries[0]!.queue ?? "", "batch() entry 0 queue (or options.queue)");
  const parts = new ChainParts();
  for (const kind of ["then", "catch", "finally"] as const) {
    const entry = options[kind];
    if (entry) parts.add(kind, chainStep(kind, entry, home, !("payload" in entry), now));
  }
  const batchJob = buildNewJob(o.name ?? "batch", null, {}, { deadLetter: false, ...(o.createdBy ? { createdBy: o.createdBy } : {}) }, now);
  const rest = parts.rest();
  const chain = rest && signedBy(rest, batchJob.createdBy);
  const nodes: FlowNode[] = [{ queue: home, job: { ...batchJob, flow: { chain, previous: null, parent: null, family: null } }, parent: null, onFailure: "fail", batch: true }];
  const onFailure: ChildFailurePolicy = o.allowFailures ? "continue" : "fail";
  entries.forEach((entry, i) => {
    const queue = entry?.queue === undefined ? home : queueName(entry.queue, `batch() entry ${i} queue`);
    nodes.push({ queue, job: flowNewJob(host, queue, entry, now, `batch() entry ${i}`), parent: 0, onFailure, batch: false });
  });
  const [batch] = await host.store.enqueueFlow({ nodes, now });
  return batchProgress(batch!)!;
}

/** A batch's progress from its job; null for a job that is no batch. */
export function batchProgress(job: Job): BatchProgress | null {
  const family = job.flow?.family;
  if (!family?.batch) return null;
  const total = family.children.length;
  return {
    id: job.id, queue: job.queue, name: job.name, state: job.state, total,
    processed: total - family.pending, pending: family.pending, failed: family.failed,
    createdAt: job.createdAt, finishedAt: job.finishedAt,
  };
}

/** A flow's jobs as they are now, from any job of it down; a child retention deleted is left out. */
export async function readFlow(store: QueueStore, queue: string, id: string, depth = MAX_FLOW_DEPTH): Promise<FlowJob | null> {
  const job = await store.get(queue, id);
  if (!job) return null;
  const refs = depth > 0 ? job.flow?.family?.children ?? [] : [];
  const children = await Promise.all(refs.map((ref) => readFlow(store, ref.queue, ref.id, depth - 1)));
  return { job, children: children.filter((child) => child !== null) };
}
