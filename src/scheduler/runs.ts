import type { Clock } from "../core/clock.ts";
import type { JobDefinition } from "../core/define-job.ts";
import { ConveyorError } from "../core/errors.ts";
import type { Job, JobState } from "../core/job.ts";
import type { JobOptions } from "../core/job-options.ts";
import type { Queue } from "../core/queue.ts";
import type { QueueStore } from "../core/store-contract.ts";
import { type JobLookup, resolveBatch, resolveChain, resolveFlow, startBatch, startChain, startFlow } from "../core/workflow-spec.ts";
import type { ScheduleRecord } from "./schedule-options.ts";

/** A scheduler's hooks into the conveyor it belongs to. */
export interface SchedulerHost {
  readonly store: QueueStore;
  readonly clock: Clock;
  queue(name: string): Queue;
  /** The queues declared so far: where a workflow's job names are looked up without making queues. @default looked up through `queue()` */
  readonly queues?: ReadonlyMap<string, Queue>;
}

/** The job id of a tick's run (a job's, or a chain's first step's): every node derives the same one. */
export const tickJobId = (scheduleId: string, tick: number) => `schedule:${scheduleId}:${tick}`;

/** Job definitions by queue and name, as this node has them registered. */
export function lookupOf(host: SchedulerHost): JobLookup {
  return (queue, name) => (host.queues ? host.queues.get(queue) : host.queue(queue))?.definitions.get(name);
}

/** What a run started: its job (a workflow's root job), and whether this call created it. */
export interface Started {
  readonly job: Job;
  readonly created: boolean;
}

/**
 * One schedule's runs, ready to start: a tick's (`tick` given) under ids every node derives
 * alike, or a manual trigger's. `recovering`: the tick was claimed by a node that may have
 * started it before it stopped, so a run already there is returned instead of a new one.
 */
export type Run = (tick: number | undefined, recovering: boolean) => Promise<Started>;

/** Whether a tick's root job takes the tick's id (a job, a chain's first step), so it is known when the tick is claimed. */
export const rootTakesTickId = (record: ScheduleRecord): boolean => !record.workflow || "chain" in record.workflow;

export function definitionOf(host: SchedulerHost, record: ScheduleRecord): JobDefinition {
  const definition = host.queue(record.queue).definitions.get(record.job);
  if (!definition) {
    throw new ConveyorError("UNKNOWN_JOB", `Schedule "${record.id}" enqueues job "${record.job}", which is not registered on queue "${record.queue}" in this process`);
  }
  return definition;
}

/**
 * The runs of a schedule as this node can start them: every job name resolved now, so a node
 * lacking one throws (UNKNOWN_JOB) before it claims a tick, and leaves the ticks to nodes that
 * have them all.
 */
export function runOf(host: SchedulerHost, record: ScheduleRecord): Run {
  const createdBy = `schedule:${record.id}`;
  const idOf = (tick: number | undefined) => tick === undefined ? {} : { jobId: tickJobId(record.id, tick) };
  const workflow = record.workflow ?? null;
  if (workflow === null) {
    const definition = definitionOf(host, record);
    return async (tick) => {
      const job = await host.queue(record.queue).add(definition, record.payload as never, { ...record.jobOptions, ...idOf(tick), createdBy } as JobOptions);
      return { job, created: !job.duplicate };
    };
  }
  const ctx = { queue: record.queue, lookup: lookupOf(host) };
  if ("chain" in workflow) {
    const chain = resolveChain(workflow.chain, ctx);
    return async (tick) => {
      const job = await startChain(host, chain, { ...idOf(tick), createdBy });
      return { job, created: !job.duplicate };
    };
  }
  // A flow's jobs take the store's ids: a tick's are marked with its id in `createdBy` instead,
  // which is how a node recovering the tick finds a run its claimant started.
  const marker = (tick: number | undefined) => tick === undefined ? createdBy : tickJobId(record.id, tick);
  const recovered = async (tick: number | undefined, recovering: boolean, queue: string) =>
    recovering && tick !== undefined ? await findMarkedRoot(host.store, queue, marker(tick)) : null;
  if ("flow" in workflow) {
    const flow = resolveFlow(workflow.flow, ctx);
    return async (tick, recovering) => {
      const found = await recovered(tick, recovering, record.queue);
      return found ? { job: found, created: false } : { job: (await startFlow(host, flow, { createdBy: marker(tick) })).job, created: true };
    };
  }
  const batch = resolveBatch(workflow.batch, ctx);
  return async (tick, recovering) => {
    // The batch's own job records no creator: its jobs do, and lead to it.
    const found = await recovered(tick, recovering, batch.entries[0]!.queue);
    if (found) return { job: found, created: false };
    const started = await startBatch(host, batch, { createdBy: marker(tick) });
    const job = await host.store.get(started.queue, started.id);
    // Only removing it by hand, between these two calls, deletes a batch this soon.
    if (!job) throw new ConveyorError("JOB_NOT_FOUND", `Schedule "${record.id}" added batch ${started.id}, which was removed at once`);
    return { job, created: true };
  };
}

/** States in the order a job moves through them (retries aside): a scan in this order keeps up with a job that moves while it runs. */
const SCAN_ORDER: readonly JobState[] = ["waiting-children", "delayed", "waiting", "active", "completed", "failed", "dead", "cancelled"];
const PAGE = 500;

/**
 * The root of the workflow whose jobs carry `marker` as `createdBy`, if one is kept in `queue`.
 * Read only when recovering a tick whose claimant stopped, which is rare; a run it finished and
 * retention deleted is not found (as a job deleted under its tick's id is not).
 */
async function findMarkedRoot(store: QueueStore, queue: string, marker: string): Promise<Job | null> {
  for (const state of SCAN_ORDER) {
    for (let offset = 0;; offset += PAGE) {
      const page = await store.list(queue, state, { offset, limit: PAGE });
      let job = page.find((candidate) => candidate.createdBy === marker);
      for (let parent = job?.flow?.parent; job && parent; parent = job.flow?.parent) {
        const up: Job | null = await store.get(parent.queue, parent.id);
        if (!up) break;
        job = up;
      }
      if (job) return job;
      if (page.length < PAGE) break;
    }
  }
  return null;
}
