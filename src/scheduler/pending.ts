/**
 * Ticks claimed but not yet known to have their job enqueued. A node claims a tick and marks it
 * pending in one compare-and-set, enqueues the job, then clears the mark. A mark older than the
 * claim timeout belongs to a node that died (or is stuck) in between: any node enqueues that
 * tick's job under the same id and clears it. Pure functions, so every node judges marks alike
 * and the rules are tested as a table.
 */
export interface PendingTick {
  readonly tick: number;
  /** When it was claimed (or last taken over), by the claiming node's time. */
  readonly claimedAt: number;
}

/** The marks with `tick` pending since `at`, replacing any mark of the same tick; oldest tick first. */
export function markPending(pending: readonly PendingTick[], tick: number, at: number): PendingTick[] {
  return [...pending.filter((mark) => mark.tick !== tick), { tick, claimedAt: at }].sort((a, b) => a.tick - b.tick);
}

/** The marks without `tick`'s: its job is enqueued. The same array when there was none. */
export function clearPending(pending: readonly PendingTick[], tick: number): readonly PendingTick[] {
  return pending.some((mark) => mark.tick === tick) ? pending.filter((mark) => mark.tick !== tick) : pending;
}

export interface Recovery {
  /** Marks left longer than the timeout: their ticks' jobs are to be enqueued now, oldest first. */
  readonly overdue: readonly PendingTick[];
  /**
   * When to look at the marks again, if any: the moment the next one falls overdue, or, for a
   * mark overdue already (whose recovery may fail), a whole timeout from now. Null with no mark.
   */
  readonly recheckAt: number | null;
}

/**
 * Which pending ticks are overdue at `now`. A mark exactly `claimTimeoutMs` old is overdue. A mark
 * claimed "in the future" (the claiming node's clock runs ahead) waits its whole timeout from then.
 */
export function planRecovery(pending: readonly PendingTick[], now: number, claimTimeoutMs: number): Recovery {
  const overdue: PendingTick[] = [];
  let recheckAt = Infinity;
  for (const mark of pending) {
    const dueAt = mark.claimedAt + claimTimeoutMs;
    if (dueAt <= now) overdue.push(mark);
    recheckAt = Math.min(recheckAt, dueAt <= now ? now + claimTimeoutMs : dueAt);
  }
  overdue.sort((a, b) => a.tick - b.tick);
  return { overdue, recheckAt: recheckAt === Infinity ? null : recheckAt };
}
