import * as v from "valibot";
import type { ChainEntry, StepOptions } from "./chain.ts";
import type { JobDefinition } from "./define-job.ts";
import { ConveyorError, type ValidationIssue } from "./errors.ts";
import { addBatch, addFlow, type BatchEntry, type BatchOptions, type BatchProgress, type FlowHost, type FlowJob, type FlowSpec } from "./flow.ts";
import { JobDataSchema } from "./job-data.ts";
import { type JobOptions, JobOptionsFields } from "./job-options.ts";
import { NameSchema } from "./names.ts";
import type { EnqueuedJob } from "./queue.ts";
import { check, describeIssues, summarise } from "./validation.ts";
import { type ChildFailurePolicy, MAX_CHAIN_STEPS, MAX_FLOW_DEPTH, MAX_FLOW_JOBS } from "./workflow.ts";

/**
 * Workflows given by job name, as plain JSON: what HTTP bodies carry and schedules store. The
 * schemas check shape and limits, with the core's own option and job-data schemas; `resolve*`
 * then looks every name up, checks every payload against its job's schema, and returns the
 * core's own arguments, or throws a ConveyorError naming the step (`steps[2]: no job named …`)
 * before anything is stored; `start*` hands them to the core.
 */

/** The definition of the job named `name` on `queue`, or undefined when this process has none. */
export type JobLookup = (queue: string, name: string) => JobDefinition | undefined;

const { jobId: _j1, dedupKey: _d1, runAt: _r1, ...stepEntries } = JobOptionsFields.entries;
const { jobId: _j2, dedupKey: _d2, ...flowEntries } = JobOptionsFields.entries;
/** A chain step's options: the job settings and `delayMs` (after the step before; for the first step, after it is added). */
const StepOptionsSchema = v.strictObject(stepEntries);
/** A flow or batch job's options: a flow's jobs take the store's ids and no dedup key. */
const FlowOptionsSchema = v.pipe(v.strictObject(flowEntries), v.check((o) => o.delayMs === undefined || o.runAt === undefined, "delayMs or runAt, not both"));
const PolicySchema = v.picklist(["fail", "ignore", "continue"], 'one of "fail", "ignore", "continue"');

/** A chain step's options by name: the job settings and `delayMs`. */
export type NamedStepOptions = Omit<JobOptions, "jobId" | "dedupKey" | "runAt" | "createdBy">;
/** A flow or batch job's options by name: a flow's jobs take the store's ids and no dedup key. */
export type NamedFlowOptions = Omit<JobOptions, "jobId" | "dedupKey" | "createdBy">;

/** One chain step by name. Without a payload it gets what the step before left (not the first step: it has none before it). */
export interface NamedStep {
  readonly name: string;
  readonly payload?: unknown;
  readonly options?: NamedStepOptions;
  /** @default the chain's queue */
  readonly queue?: string;
}

/** A chain by name: at most MAX_CHAIN_STEPS steps, catch and finally included. */
export interface NamedChain {
  readonly steps: readonly NamedStep[];
  readonly catch?: NamedStep;
  readonly finally?: NamedStep;
}

/** One job of a batch by name. */
export interface NamedBatchJob {
  readonly name: string;
  readonly payload: unknown;
  readonly options?: NamedFlowOptions;
  /** @default the batch's queue */
  readonly queue?: string;
}

/** A batch by name: its jobs, and the steps that run once they have all ended. */
export interface NamedBatch {
  readonly jobs: readonly NamedBatchJob[];
  /** @default the queue the batch is added on */
  readonly queue?: string;
  /** @default "batch" */
  readonly name?: string;
  readonly allowFailures?: boolean;
  readonly then?: NamedStep;
  readonly catch?: NamedStep;
  readonly finally?: NamedStep;
}

/** The schema of one chain step by name. */
export const NamedStepSchema: v.GenericSchema<unknown, NamedStep> = v.strictObject({
  name: NameSchema,
  payload: v.optional(JobDataSchema),
  options: v.optional(StepOptionsSchema),
  /** @default the chain's queue */
  queue: v.optional(NameSchema),
});

/** The schema of a chain by name. */
export const NamedChainSchema: v.GenericSchema<unknown, NamedChain> = v.pipe(
  v.strictObject({
    steps: v.pipe(v.array(NamedStepSchema), v.minLength(1, "at least one step")),
    catch: v.optional(NamedStepSchema),
    finally: v.optional(NamedStepSchema),
  }),
  v.forward(
    v.check((c) => c.steps.length + (c.catch ? 1 : 0) + (c.finally ? 1 : 0) <= MAX_CHAIN_STEPS, `at most ${MAX_CHAIN_STEPS} steps, catch and finally included (MAX_CHAIN_STEPS)`),
    ["steps"],
  ),
);

/** One job of a flow by name, with its children. */
export interface NamedFlow {
  /** @default the parent's queue (the root's: the flow's) */
  readonly queue?: string;
  readonly name: string;
  readonly payload: unknown;
  readonly options?: NamedFlowOptions;
  /** What this job's failure does to its parent. @default "fail" */
  readonly onFailure?: ChildFailurePolicy;
  readonly children?: readonly NamedFlow[];
}

const FlowNodeSchema: v.GenericSchema<unknown, NamedFlow> = v.strictObject({
  queue: v.optional(NameSchema),
  name: NameSchema,
  payload: JobDataSchema,
  options: v.optional(FlowOptionsSchema),
  onFailure: v.optional(PolicySchema),
  children: v.optional(v.array(v.lazy(() => FlowNodeSchema))),
});

/**
 * Depth and size first, without recursion: a body nested thousands of levels deep is refused
 * here, before the recursive schema (or the core) could run out of stack walking it.
 */
function flowLimitProblem(root: unknown): string | null {
  const stack: { node: unknown; depth: number; label: () => string }[] = [{ node: root, depth: 1, label: () => "flow" }];
  let jobs = 1;
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { node, depth, label } = top;
    const children = typeof node === "object" && node !== null ? (node as { children?: unknown }).children : undefined;
    if (!Array.isArray(children) || children.length === 0) continue;
    if (depth === MAX_FLOW_DEPTH) return `at most ${MAX_FLOW_DEPTH} levels (MAX_FLOW_DEPTH): ${label()}.children would be level ${depth + 1}`;
    jobs += children.length;
    if (jobs > MAX_FLOW_JOBS) return `at most ${MAX_FLOW_JOBS} jobs in a flow (MAX_FLOW_JOBS): ${label()}.children makes ${jobs} or more`;
    children.forEach((child, i) => stack.push({ node: child, depth: depth + 1, label: () => `${label()}.children[${i}]` }));
  }
  return null;
}

/** A flow tree by name: at most MAX_FLOW_DEPTH levels and MAX_FLOW_JOBS jobs. */
export const NamedFlowSchema: v.GenericSchema<unknown, NamedFlow> = v.pipe(
  v.unknown(),
  v.check((value) => flowLimitProblem(value) === null, (issue) => flowLimitProblem(issue.input) ?? "a flow within its limits"),
  FlowNodeSchema,
);

/** The schema of one batch job by name. */
export const NamedBatchJobSchema: v.GenericSchema<unknown, NamedBatchJob> = v.strictObject({
  name: NameSchema,
  payload: JobDataSchema,
  options: v.optional(FlowOptionsSchema),
  /** @default the batch's queue */
  queue: v.optional(NameSchema),
});

/** The schema of a batch by name. */
export const NamedBatchSchema: v.GenericSchema<unknown, NamedBatch> = v.strictObject({
  // The batch is a job too: its jobs and it make at most MAX_FLOW_JOBS.
  jobs: v.pipe(v.array(NamedBatchJobSchema), v.minLength(1, "at least one job"), v.maxLength(MAX_FLOW_JOBS - 1, `at most ${MAX_FLOW_JOBS - 1} jobs (MAX_FLOW_JOBS with the batch)`)),
  /** @default the queue the batch is added on */
  queue: v.optional(NameSchema),
  /** @default "batch" */
  name: v.optional(NameSchema),
  allowFailures: v.optional(v.boolean()),
  then: v.optional(NamedStepSchema),
  catch: v.optional(NamedStepSchema),
  finally: v.optional(NamedStepSchema),
});


/** Where names are resolved, and what a workflow may touch. */
export interface SpecContext {
  /** The queue the chain starts on, the flow's root or the batch lives on; every job that names no queue runs there. */
  readonly queue: string;
  readonly lookup: JobLookup;
  /** Called with each queue the workflow touches, before any name is looked up (the HTTP app checks scopes here). */
  readonly authorize?: (queue: string) => void;
  /** Prefix of every issue path, e.g. "body.chain". @default "" */
  readonly path?: string;
}

/** A place in a spec: its issue path ("steps.2") and its label in messages ("steps[2]"). */
interface Place {
  readonly path: string;
  readonly label: string;
}
const join = (...parts: string[]) => parts.filter(Boolean).join(".");
const placeAt = (parent: Place, key: string, index?: number): Place => ({
  path: join(parent.path, key, index === undefined ? "" : String(index)),
  label: `${parent.label ? `${parent.label}.` : ""}${key}${index === undefined ? "" : `[${index}]`}`,
});

const refused = (place: Place, code: "UNKNOWN_JOB" | "VALIDATION_FAILED", message: string, issues?: ValidationIssue[]) =>
  new ConveyorError(code, `${place.label}: ${message}`, { issues: issues ?? [{ path: place.path, message }] });

function parsed<S extends v.GenericSchema>(schema: S, input: unknown, ctx: SpecContext, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  const issues = describeIssues(result.issues).map((i) => ({ ...i, path: join(ctx.path ?? "", i.path) }));
  throw new ConveyorError("VALIDATION_FAILED", `Invalid ${what}: ${summarise(issues)}`, { issues });
}

function definition(ctx: SpecContext, queue: string, name: string, place: Place): JobDefinition {
  const found = ctx.lookup(queue, name);
  if (!found) throw refused(place, "UNKNOWN_JOB", `no job named "${name}" on queue "${queue}"`);
  return found;
}

function checkPayload(job: JobDefinition, payload: unknown, place: Place): void {
  const result = check(job.schema, payload, `the payload of ${place.label}`);
  if (result.ok) return;
  const issues = result.issues.map((i) => ({ ...i, path: join(place.path, "payload", i.path) }));
  throw refused(place, "VALIDATION_FAILED", `invalid payload for job "${job.name}": ${summarise(issues)}`, issues);
}

function sameQueue(given: string | undefined, ctx: SpecContext, place: Place, what: string): void {
  if (given !== undefined && given !== ctx.queue) {
    throw refused(placeAt(place, "queue"), "VALIDATION_FAILED", `${what} is on queue "${ctx.queue}" here: leave its queue out or name that one, not "${given}"`);
  }
}

/** A step as a core chain entry (its payload left out when the step before hands it one). */
function chainEntry(step: NamedStep, home: string, ctx: SpecContext, place: Place): ChainEntry {
  const job = definition(ctx, step.queue ?? home, step.name, place);
  const options: StepOptions = { ...step.options, ...(step.queue === undefined ? {} : { queue: step.queue }) };
  if (step.payload === undefined) return { job, options };
  checkPayload(job, step.payload, place);
  return { job, payload: step.payload, options };
}

function authorizeAll(ctx: SpecContext, queues: Iterable<string | undefined>): void {
  if (!ctx.authorize) return;
  for (const queue of new Set([ctx.queue, ...queues])) if (queue !== undefined) ctx.authorize(queue);
}

/** A chain ready for the core: every name resolved, every payload checked. */
export interface ResolvedChain {
  /** The spec as parsed: plain JSON, what a schedule stores. */
  readonly spec: NamedChain;
  readonly queue: string;
  readonly steps: readonly ChainEntry[];
  readonly catch: ChainEntry | null;
  readonly finally: ChainEntry | null;
}

export function resolveChain(input: unknown, ctx: SpecContext): ResolvedChain {
  const spec = parsed(NamedChainSchema, input, ctx, "chain");
  const root: Place = { path: ctx.path ?? "", label: "" };
  authorizeAll(ctx, [...spec.steps, spec.catch, spec.finally].map((s) => s?.queue));
  const first = spec.steps[0]!;
  const firstPlace = placeAt(root, "steps", 0);
  sameQueue(first.queue, ctx, firstPlace, "the chain's first step");
  if (first.payload === undefined) throw refused(placeAt(firstPlace, "payload"), "VALIDATION_FAILED", "the first step needs a payload: no step before it hands one on");
  const { queue: _q, ...firstStep } = first;
  const handler = (kind: "catch" | "finally") => spec[kind] ? chainEntry(spec[kind], ctx.queue, ctx, placeAt(root, kind)) : null;
  return {
    spec,
    queue: ctx.queue,
    steps: spec.steps.map((step, i) => chainEntry(i === 0 ? firstStep : step, ctx.queue, ctx, placeAt(root, "steps", i))),
    catch: handler("catch"),
    finally: handler("finally"),
  };
}

/** Who starts a workflow, recorded on its jobs. */
export interface StartOptions {
  /** Kept as `createdBy` on the jobs (a chain's first step; every job of a flow or batch). @default null */
  readonly createdBy?: string;
  /** The chain's first job's id: adding the chain again under it returns that job and adds nothing. @default the store's */
  readonly jobId?: string;
}

/** Adds a resolved chain: its first job, with every step, in one call. */
export async function startChain(host: FlowHost, chain: ResolvedChain, options: StartOptions = {}): Promise<EnqueuedJob> {
  const [first, ...rest] = chain.steps;
  const { queue: _queue, ...firstOptions } = first!.options ?? {};
  const builder = host.queue(chain.queue).chain(first!.job, first!.payload, { ...firstOptions, ...options });
  for (const step of rest) builder.then(step.job, step.payload, step.options);
  if (chain.catch) builder.catch(chain.catch.job, chain.catch.payload, chain.catch.options);
  if (chain.finally) builder.finally(chain.finally.job, chain.finally.payload, chain.finally.options);
  return await builder.add();
}

/** A flow ready for the core. */
export interface ResolvedFlow {
  readonly spec: NamedFlow;
  readonly root: FlowSpec;
}

export function resolveFlow(input: unknown, ctx: SpecContext): ResolvedFlow {
  const spec = parsed(NamedFlowSchema, input, ctx, "flow");
  const root: Place = { path: ctx.path ?? "", label: "flow" };
  const queues: (string | undefined)[] = [];
  const collect = (node: NamedFlow): void => {
    queues.push(node.queue);
    node.children?.forEach(collect);
  };
  collect(spec);
  authorizeAll(ctx, queues);
  sameQueue(spec.queue, ctx, root, "the flow's root");
  const resolve = (node: NamedFlow, queue: string, place: Place): FlowSpec => {
    const job = definition(ctx, queue, node.name, place);
    checkPayload(job, node.payload, place);
    const children = (node.children ?? []).map((child, i) => resolve(child, child.queue ?? queue, placeAt(place, "children", i)));
    return { queue, job, payload: node.payload, options: node.options, onFailure: node.onFailure, children };
  };
  return { spec, root: resolve(spec, ctx.queue, root) };
}

/** Adds a resolved flow in one atomic call. */
export async function startFlow(host: FlowHost, flow: ResolvedFlow, options: Omit<StartOptions, "jobId"> = {}): Promise<FlowJob> {
  const { createdBy } = options;
  const stamp = (node: FlowSpec): FlowSpec => ({ ...node, options: { ...node.options, createdBy }, children: node.children?.map(stamp) });
  return await addFlow(host, createdBy === undefined ? flow.root : stamp(flow.root));
}

/** A batch ready for the core. */
export interface ResolvedBatch {
  readonly spec: NamedBatch;
  readonly entries: readonly (BatchEntry & { readonly queue: string })[];
  readonly options: BatchOptions;
}

export function resolveBatch(input: unknown, ctx: SpecContext): ResolvedBatch {
  const spec = parsed(NamedBatchSchema, input, ctx, "batch");
  const root: Place = { path: ctx.path ?? "", label: "" };
  authorizeAll(ctx, [...spec.jobs, spec.then, spec.catch, spec.finally].map((j) => j?.queue));
  sameQueue(spec.queue, ctx, { path: root.path, label: "batch" }, "the batch");
  const entries = spec.jobs.map((entry, i): BatchEntry & { queue: string } => {
    const place = placeAt(root, "jobs", i);
    const queue = entry.queue ?? ctx.queue;
    const job = definition(ctx, queue, entry.name, place);
    checkPayload(job, entry.payload, place);
    return { queue, job, payload: entry.payload, options: entry.options };
  });
  const options: BatchOptions = { queue: ctx.queue, name: spec.name, allowFailures: spec.allowFailures };
  for (const kind of ["then", "catch", "finally"] as const) {
    const step = spec[kind];
    if (step) options[kind] = chainEntry(step, ctx.queue, ctx, placeAt(root, kind));
  }
  return { spec, entries, options };
}

/** Adds a resolved batch and its jobs in one atomic call. */
export async function startBatch(host: FlowHost, batch: ResolvedBatch, options: Omit<StartOptions, "jobId"> = {}): Promise<BatchProgress> {
  const { createdBy } = options;
  const entries = createdBy === undefined ? batch.entries : batch.entries.map((entry) => ({ ...entry, options: { ...entry.options, createdBy } }));
  return await addBatch(host, entries, createdBy === undefined ? batch.options : { ...batch.options, createdBy });
}
