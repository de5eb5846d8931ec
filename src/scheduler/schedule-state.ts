import type { QueueStore } from "../core/store-contract.ts";
import { EMPTY_STATE, type ScheduleState } from "./schedule-options.ts";

/** Namespaces of the store's records: schedule definitions, and what has happened to each. */
export const SCHEDULES = "schedules";
export const STATES = "schedule-state";

/**
 * A schedule's state as last read, with the stored record itself (null before the first write),
 * which is what a compare-and-set must name.
 */
export interface StateSnapshot {
  readonly state: ScheduleState;
  readonly stored: ScheduleState | null;
}

export async function readState(store: QueueStore, id: string): Promise<StateSnapshot> {
  const stored = await store.getRecord<ScheduleState>(STATES, id);
  // Filled in from the empty state: one written before a field existed lacks it.
  return { state: stored ? { ...EMPTY_STATE, ...stored } : EMPTY_STATE, stored };
}

/** Writes `next` if the state is still `snapshot`; true when it did. */
export async function swapState(store: QueueStore, id: string, snapshot: StateSnapshot, next: ScheduleState): Promise<boolean> {
  return await store.compareAndSetRecord(STATES, id, snapshot.stored, next);
}

/**
 * Applies `change` starting from `snapshot` (no read while it is current), reading again after
 * each lost swap. Returns the state as left: written, or as found when `change` returned it
 * unchanged; null when the state disappeared meanwhile (the schedule was removed).
 */
export async function changeState(
  store: QueueStore,
  id: string,
  snapshot: StateSnapshot,
  change: (state: ScheduleState) => ScheduleState,
): Promise<StateSnapshot | null> {
  for (;;) {
    const next = change(snapshot.state);
    if (next === snapshot.state) return snapshot;
    if (await swapState(store, id, snapshot, next)) return { state: next, stored: next };
    const reread = await readState(store, id);
    if (snapshot.stored !== null && reread.stored === null) return null;
    snapshot = reread;
  }
}

/**
 * Changes a schedule's state without losing another node's change: read, change, swap, and read
 * again when someone wrote in between. `change` returning the state it got writes nothing.
 */
export async function updateState(store: QueueStore, id: string, change: (state: ScheduleState) => ScheduleState): Promise<ScheduleState> {
  for (;;) {
    const snapshot = await readState(store, id);
    const next = change(snapshot.state);
    if (next === snapshot.state || await swapState(store, id, snapshot, next)) return next;
  }
}
