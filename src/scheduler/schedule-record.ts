import * as v from "valibot";
import type { JobDefinition, PayloadInput } from "../core/define-job.ts";
import { isJobDefinition } from "../core/define-job.ts";
import { ConveyorError } from "../core/errors.ts";
import { type JobOptions, JobOptionsFields } from "../core/job-options.ts";
import { NameSchema } from "../core/names.ts";
import { parseArgument, parseData } from "../core/validation.ts";
import { resolveBatch, resolveChain, resolveFlow } from "../core/workflow-spec.ts";
import { lookupOf, type SchedulerHost } from "./runs.ts";
import { type ScheduledWorkflow, type ScheduleOptions, ScheduleOptionsSchema, type ScheduleRecord } from "./schedule-options.ts";
import { timingOf, type When } from "./timing.ts";

/** What a schedule enqueues at each tick: a job definition with its payload, on a queue. */
export interface JobTarget<D extends JobDefinition = JobDefinition> {
  readonly queue: string;
  readonly job: D;
  readonly payload: PayloadInput<D>;
  /** Options of every job it enqueues (priority, attempts, backoff, timeout, retention …). */
  readonly options?: Omit<JobOptions, "jobId" | "delayMs" | "runAt" | "dedupKey">;
}

/**
 * Or a workflow each tick starts on `queue`, by job name, as the store keeps it:
 * `{ queue, chain: { steps: [{ name, payload?, options?, queue? }, …], catch?, finally? } }`,
 * `{ queue, flow: { name, payload, children? … } }` or `{ queue, batch: { jobs: […], then? … } }`.
 * Every job it names must be registered on its queue (`queue.register(…)`, or a worker's
 * `handle`) on the nodes that define and fire it.
 */
export type WorkflowTarget = { readonly queue: string } & ScheduledWorkflow;

export type ScheduleTarget<D extends JobDefinition = JobDefinition> = JobTarget<D> | WorkflowTarget;

const KINDS = ["job", "chain", "flow", "batch"] as const;

/** A workflow target checked (every name resolved, every payload checked) as parsed, and the name of its first job. */
function checkedWorkflow(host: SchedulerHost, id: string, target: WorkflowTarget): { workflow: ScheduledWorkflow; job: string } {
  const ctx = (path: string) => ({ queue: target.queue, lookup: lookupOf(host), path });
  if ("chain" in target) {
    const { spec } = resolveChain(target.chain, ctx("chain"));
    return { workflow: { chain: spec }, job: spec.steps[0]!.name };
  }
  if ("flow" in target) {
    const { spec } = resolveFlow(target.flow, ctx("flow"));
    return { workflow: { flow: spec }, job: spec.name };
  }
  if ("batch" in target) {
    const { spec } = resolveBatch(target.batch, ctx("batch"));
    return { workflow: { batch: spec }, job: spec.name ?? "batch" };
  }
  throw new TypeError(`schedule("${id}") target has no chain, flow or batch`);
}

/** A schedule's job options: timing and identity are the schedule's own. */
const TargetOptionsSchema = v.omit(JobOptionsFields, ["jobId", "delayMs", "runAt", "dedupKey"]);

/**
 * Validates a definition (throwing with the bad value quoted) and builds the record the store
 * keeps. Registers the job on its queue, so this node can fire the schedule.
 */
export function buildScheduleRecord<D extends JobDefinition>(
  host: SchedulerHost,
  id: string,
  when: When,
  target: ScheduleTarget<D>,
  options: ScheduleOptions,
): ScheduleRecord {
  parseArgument(NameSchema, id, "schedule id");
  const kinds = target && typeof target === "object" ? KINDS.filter((kind) => (target as Record<string, unknown>)[kind] !== undefined) : [];
  if (kinds.length !== 1 || (kinds[0] === "job" && !isJobDefinition((target as JobTarget).job))) {
    throw new TypeError(`schedule("${id}") needs one of { queue, job, payload } (a job made by defineJob()), { queue, chain }, { queue, flow } or { queue, batch }`);
  }
  parseArgument(NameSchema, target.queue, "queue name");
  const o = parseData(ScheduleOptionsSchema, options ?? {}, `options of schedule "${id}"`);
  const timezone = o.timezone ?? null;
  timingOf(when, timezone); // throws, quoting the bad expression or timezone
  if (o.startAt !== undefined && o.endAt !== undefined && o.endAt < o.startAt) {
    throw new ConveyorError("VALIDATION_FAILED", `Schedule "${id}" ends before it starts`, { issues: [{ path: "endAt", message: "after startAt" }] });
  }
  const now = host.clock.now();
  const catchUp = o.catchUp ?? "none";
  let what: Pick<ScheduleRecord, "job" | "payload" | "jobOptions" | "workflow">;
  if ("job" in target && target.job !== undefined) {
    parseData(target.job.schema, target.payload, `payload of schedule "${id}"`);
    const jobOptions = parseData(TargetOptionsSchema, target.options ?? {}, `job options of schedule "${id}"`);
    host.queue(target.queue).register(target.job);
    const kept = Object.fromEntries(Object.entries(jobOptions).filter(([, value]) => value !== undefined));
    // No workflow key at all: the record stays what it was before workflows, so `sameDefinition` holds.
    what = { job: target.job.name, payload: target.payload, jobOptions: kept };
  } else {
    const { workflow, job } = checkedWorkflow(host, id, target as WorkflowTarget);
    what = { job, payload: null, jobOptions: {}, workflow };
  }
  return {
    id,
    queue: target.queue,
    ...what,
    cron: typeof when === "string" ? when.trim() : null,
    everyMs: typeof when === "string" ? null : when.everyMs,
    timezone,
    startAt: o.startAt ?? null,
    endAt: o.endAt ?? null,
    maxRuns: o.maxRuns ?? null,
    overlap: o.overlap ?? "skip",
    catchUp: typeof catchUp === "string" ? { mode: catchUp, max: 1 } : { mode: "all", max: catchUp.all },
    paused: o.paused ?? false,
    createdAt: now,
    updatedAt: now,
  };
}

/** Whether two records define the same schedule (when each was written aside). */
export function sameDefinition(a: ScheduleRecord, b: ScheduleRecord): boolean {
  return JSON.stringify({ ...a, createdAt: 0, updatedAt: 0 }) === JSON.stringify({ ...b, createdAt: 0, updatedAt: 0 });
}
