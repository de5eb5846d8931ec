import type { Job } from "../core/job.ts";
import { firstFloor, planTicks } from "./plan.ts";
import { clearPending, markPending, planRecovery } from "./pending.ts";
import { type Run, rootTakesTickId, runOf, type SchedulerHost, tickJobId } from "./runs.ts";
import type { ScheduleRecord, ScheduleState } from "./schedule-options.ts";
import { changeState, readState, type StateSnapshot, swapState } from "./schedule-state.ts";
import type { Timing } from "./timing.ts";

export { type SchedulerHost, tickJobId } from "./runs.ts";

/** A schedule as one node fires it: the definition, its timing, and what bounds its ticks. */
export interface Prepared {
  readonly record: ScheduleRecord;
  readonly timing: Timing;
  /** Last tick this schedule may fire (by endAt and maxRuns). */
  readonly lastEligible: number;
}

/** How one node evaluates a schedule's ticks. */
export interface FiringRules {
  /** A tick up to this late is on time; older ones follow the catch-up rule. */
  readonly graceMs: number;
  /** A tick claimed this long ago whose job is still not known to be enqueued is enqueued by whoever sees it. */
  readonly claimTimeoutMs: number;
}

export interface Fired {
  /** The jobs this evaluation created. */
  readonly created: Job[];
  /** When a tick still pending (another node's, or one whose enqueue failed) is next to be looked at. */
  readonly recheckAt: number | null;
}

/**
 * Fires the ticks of one schedule due by `now` that no node has dealt with, and enqueues the
 * jobs of ticks claimed by a node that then stopped.
 *
 * Each tick is claimed before its job is enqueued, by one compare-and-set of the schedule's
 * state that moves `lastTick` up to it, counts the run and marks the tick pending. Only one
 * node's swap from a given state succeeds; the others read again, see `lastTick` at or past the
 * tick, and leave it. So a tick fires once however soon its job is deleted (`removeOnComplete`),
 * and `runs` counts every run. Once the job is enqueued the mark is cleared. A node that dies in
 * between (or fails to enqueue) leaves the mark: after `claimTimeoutMs` any node enqueues the job
 * under the tick's id (a no-op while the job exists) and clears it. A tick is never lost; it runs
 * twice only if its claimant stopped (or stalled past the timeout) after enqueueing and the job
 * was done and deleted before another node took the mark over.
 *
 * A chain's first step takes the tick's id like a job. A flow's or a batch's jobs take the
 * store's ids, so they carry the tick's id as `createdBy`, and the node recovering a mark looks
 * for them before starting the run again (see `runs.ts`); the same caveat holds.
 */
export async function fireDue(host: SchedulerHost, schedule: Prepared, now: number, rules: FiringRules): Promise<Fired> {
  const created: Job[] = [];
  const { record } = schedule;
  // Overdue ticks first: they were claimed before any tick this evaluation could claim.
  let snapshot = await recoverOverdue(host, record, await readState(host.store, record.id), now, rules.claimTimeoutMs, created);
  if (snapshot !== null && !record.paused) snapshot = await fireTicks(host, schedule, snapshot, now, rules.graceMs, created);
  return { created, recheckAt: snapshot && planRecovery(snapshot.state.pending, now, rules.claimTimeoutMs).recheckAt };
}

/** Claims and fires the ticks due by `now`; returns the state as left (null: the schedule was removed). */
async function fireTicks(host: SchedulerHost, schedule: Prepared, snapshot: StateSnapshot, now: number, graceMs: number, created: Job[]): Promise<StateSnapshot | null> {
  const { record, timing, lastEligible } = schedule;
  const plan = planTicks({
    timing,
    after: Math.max(snapshot.state.lastTick ?? -Infinity, firstFloor(record)),
    now,
    graceMs,
    lastEligible,
    catchUp: record.catchUp,
  });
  const due = [...plan.madeUp, ...plan.onTime];
  // Resolved before claiming: a node that cannot start the run leaves its ticks to one that can.
  const run = due.length > 0 ? runOf(host, record) : undefined;
  let current: StateSnapshot | null = snapshot;
  for (const tick of due) {
    const claimed = await claimTick(host, record, tick, current, now);
    if (claimed === null) return null;
    current = claimed.fire ? await enqueueClaimed(host, record, run!, tick, false, claimed.snapshot, created) : claimed.snapshot;
    if (current === null) return null;
  }
  // Ticks passed over (missed and not made up) are dealt with too: no node plans them again.
  const through = plan.through;
  if (through === null) return current;
  return await changeState(host.store, record.id, current, (state) => (state.lastTick ?? -Infinity) >= through ? state : { ...state, lastTick: through });
}

/**
 * Starts a claimed tick's run, then clears its pending mark. If the start fails the mark stays,
 * so the tick is started again once it is overdue, and the error is thrown. A run whose root
 * took the store's id (a flow's, a batch's) is recorded as the latest here, unless a later tick
 * was claimed meanwhile.
 */
async function enqueueClaimed(
  host: SchedulerHost,
  record: ScheduleRecord,
  run: Run,
  tick: number,
  recovering: boolean,
  snapshot: StateSnapshot,
  created: Job[],
): Promise<StateSnapshot | null> {
  const { job, created: isNew } = await run(tick, recovering); // throws with the mark left
  if (isNew) {
    created.push(job);
    announce(host, record, job, tick);
  }
  const latest = !rootTakesTickId(record);
  return await changeState(host.store, record.id, snapshot, (state) => {
    const pending = clearPending(state.pending, tick);
    const lastJobId = latest && state.lastTick === tick ? job.id : state.lastJobId;
    return pending === state.pending && lastJobId === state.lastJobId ? state : { ...state, pending, lastJobId };
  });
}

/** The `scheduled` event on the schedule's queue: which tick started which job (a workflow's first or root job). */
export function announce(host: SchedulerHost, record: ScheduleRecord, job: Job, tickAt: number): void {
  host.store.publish(record.queue, {
    type: "scheduled", queue: record.queue, at: host.clock.now(), jobId: job.id, name: job.name, scheduleId: record.id, tickAt,
  });
}

/**
 * Enqueues the jobs of ticks pending longer than `claimTimeoutMs`. Each mark is first taken over
 * (its claim time set to now, by compare-and-set), so of the nodes that see it one recovers it
 * and the others wait another timeout; a node that dies recovering it leaves it to the next.
 */
async function recoverOverdue(
  host: SchedulerHost,
  record: ScheduleRecord,
  snapshot: StateSnapshot,
  now: number,
  claimTimeoutMs: number,
  created: Job[],
): Promise<StateSnapshot | null> {
  let current: StateSnapshot | null = snapshot;
  for (;;) {
    const mark = planRecovery(current.state.pending, now, claimTimeoutMs).overdue[0];
    if (mark === undefined) return current;
    const run = runOf(host, record);
    let taken = false;
    current = await changeState(host.store, record.id, current, (state) => {
      taken = state.pending.some((p) => p.tick === mark.tick && p.claimedAt === mark.claimedAt);
      return taken ? { ...state, pending: markPending(state.pending, mark.tick, now) } : state;
    });
    if (current === null) return null;
    if (taken) current = await enqueueClaimed(host, record, run, mark.tick, true, current, created);
    if (current === null) return null;
  }
}

interface Claimed {
  /** The state written: the tick is this node's to fire (`fire`), or skipped by the overlap rule. */
  readonly snapshot: StateSnapshot;
  readonly fire: boolean;
}

/**
 * Deals with one tick against the shared state, retrying until this node's swap succeeds or
 * another node has dealt with the tick. Null when the schedule's state disappeared (removed).
 */
async function claimTick(host: SchedulerHost, record: ScheduleRecord, tick: number, snapshot: StateSnapshot, now: number): Promise<Claimed | null> {
  for (;;) {
    const { state } = snapshot;
    if ((state.lastTick ?? -Infinity) >= tick) return { snapshot, fire: false };
    const fire = !await overlapBlocks(host, record, state);
    const next: ScheduleState = fire
      ? { ...state, lastTick: tick, lastRunAt: now, lastJobId: rootTakesTickId(record) ? tickJobId(record.id, tick) : state.lastJobId, runs: state.runs + 1, pending: markPending(state.pending, tick, now) }
      : { ...state, lastTick: tick, skipped: state.skipped + 1, lastSkippedAt: now };
    if (await swapState(host.store, record.id, snapshot, next)) return { snapshot: { state: next, stored: next }, fire };
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
  // A flow's root (or a batch) waiting for its children is a run under way.
  const running = last?.state === "active" || last?.state === "waiting-children";
  return record.overlap === "skip" ? pending || running : pending;
}
