import type { Clock } from "../core/clock.ts";
import type { JobDefinition } from "../core/define-job.ts";
import { ConveyorError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import type { JobOptions } from "../core/job-options.ts";
import type { EnqueuedJob, Queue } from "../core/queue.ts";
import type { QueueStore } from "../store/contract.ts";
import { reportError } from "../util/report-error.ts";
import { firstFloor, planTicks } from "./plan.ts";
import type { ScheduleRecord, ScheduleState } from "./schedule-options.ts";
import { readState, type StateSnapshot, swapState } from "./schedule-state.ts";
import type { Timing } from "./timing.ts";

/** A scheduler's hooks into the conveyor it belongs to. */
export interface SchedulerHost {
  readonly store: QueueStore;
  readonly clock: Clock;
  queue(name: string): Queue;
}

/** A schedule as one node fires it: the definition, its timing, and what bounds its ticks. */
export interface Prepared {
  readonly record: ScheduleRecord;
  readonly timing: Timing;
  /** Last tick this schedule may fire (by endAt and maxRuns). */
  readonly lastEligible: number;
}

/** The job id of a tick's run: every node derives the same one. */
export const tickJobId = (scheduleId: string, tick: number) => `schedule:${scheduleId}:${tick}`;

/**
 * Fires the ticks of one schedule due by `now` that no node has dealt with; returns the jobs it
 * created.
 *
 * Each tick is claimed before its job is enqueued, by one compare-and-set of the schedule's
 * state that moves `lastTick` up to it and counts the run. Only one node's swap from a given
 * state succeeds; the others read again, see `lastTick` at or past the tick, and leave it. So a
 * tick fires once however soon its job is deleted (`removeOnComplete`), and `runs` counts every
 * run. A node that dies between claiming a tick and enqueueing its job loses that tick: a tick
 * fires at most once, and misses only then.
 */
export async function fireDue(host: SchedulerHost, schedule: Prepared, now: number, graceMs: number): Promise<Job[]> {
  const { record, timing, lastEligible } = schedule;
  if (record.paused) return [];
  let snapshot = await readState(host.store, record.id);
  const plan = planTicks({
    timing,
    after: Math.max(snapshot.state.lastTick ?? -Infinity, firstFloor(record)),
    now,
    graceMs,
    lastEligible,
    catchUp: record.catchUp,
  });
  const due = [...plan.madeUp, ...plan.onTime];
  // Checked before claiming: a node that cannot enqueue the job leaves its ticks to one that can.
  const definition = due.length > 0 ? definitionOf(host, record) : undefined;
  const created: Job[] = [];
  for (const tick of due) {
    const claimed = await claimTick(host, record, tick, snapshot, now);
    if (claimed === null) return created; // the schedule was removed meanwhile
    snapshot = claimed.snapshot;
    if (!claimed.fire) continue;
    try {
      const job = await enqueueRun(host, record, definition!, tick);
      if (!job.duplicate) created.push(job);
    } catch (error) {
      // Give the tick back so a later evaluation (this node's or another's) fires it. If the
      // state changed since the claim, the tick stays claimed and is lost: say so.
      if (!await swapState(host.store, record.id, claimed.snapshot, claimed.before)) {
        reportError(error, `scheduler: tick ${new Date(tick).toISOString()} of schedule "${record.id}" was claimed but its job not enqueued`);
      }
      throw error;
    }
  }
  // Ticks passed over (missed and not made up) are dealt with too: no node plans them again.
  if (plan.through !== null) await passOver(host, record.id, plan.through, snapshot);
  return created;
}

interface Claimed {
  /** The state written: the tick is this node's to fire (`fire`), or skipped by the overlap rule. */
  readonly snapshot: StateSnapshot;
  /** The state the claim replaced, to give the tick back if its job cannot be enqueued. */
  readonly before: ScheduleState;
  readonly fire: boolean;
}

/**
 * Deals with one tick against the shared state, retrying until this node's swap succeeds or
 * another node has dealt with the tick. Null when the schedule's state disappeared (removed).
 */
async function claimTick(host: SchedulerHost, record: ScheduleRecord, tick: number, snapshot: StateSnapshot, now: number): Promise<Claimed | null> {
  for (;;) {
    const { state } = snapshot;
    if ((state.lastTick ?? -Infinity) >= tick) return { snapshot, before: state, fire: false };
    const fire = !await overlapBlocks(host, record, state);
    const next: ScheduleState = fire
      ? { ...state, lastTick: tick, lastRunAt: now, lastJobId: tickJobId(record.id, tick), runs: state.runs + 1 }
      : { ...state, lastTick: tick, skipped: state.skipped + 1, lastSkippedAt: now };
    if (await swapState(host.store, record.id, snapshot, next)) return { snapshot: { state: next, stored: next }, before: state, fire };
    const reread = await readState(host.store, record.id);
    if (snapshot.stored !== null && reread.stored === null) return null;
    snapshot = reread;
  }
}

/** Whether the overlap rule keeps this tick from running, given the latest run's job. */
async function overlapBlocks(host: SchedulerHost, record: ScheduleRecord, state: ScheduleState): Promise<boolean> {
  if (record.overlap === "allow" || state.lastJobId === null) return false;
  const last = await host.queue(record.queue).get(state.lastJobId);
  const pending = last !== null && (last.state === "waiting" || last.state === "delayed");
  return record.overlap === "skip" ? pending || last?.state === "active" : pending;
}

async function passOver(host: SchedulerHost, id: string, through: number, snapshot: StateSnapshot): Promise<void> {
  for (;;) {
    const { state } = snapshot;
    if ((state.lastTick ?? -Infinity) >= through) return;
    if (await swapState(host.store, id, snapshot, { ...state, lastTick: through })) return;
    const reread = await readState(host.store, id);
    if (snapshot.stored !== null && reread.stored === null) return;
    snapshot = reread;
  }
}

export function definitionOf(host: SchedulerHost, record: ScheduleRecord): JobDefinition {
  const definition = host.queue(record.queue).definitions.get(record.job);
  if (!definition) {
    throw new ConveyorError("UNKNOWN_JOB", `Schedule "${record.id}" enqueues job "${record.job}", which is not registered on queue "${record.queue}" in this process`);
  }
  return definition;
}

/** Enqueues one run: a tick's under the id every node derives alike, a manual trigger's (no tick) under a fresh one. */
export async function enqueueRun(host: SchedulerHost, record: ScheduleRecord, definition: JobDefinition, tick: number | undefined): Promise<EnqueuedJob> {
  return await host.queue(record.queue).add(definition, record.payload as never, {
    ...record.jobOptions,
    ...(tick === undefined ? {} : { jobId: tickJobId(record.id, tick) }),
    createdBy: `schedule:${record.id}`,
  } as JobOptions);
}
