import type { AuditRecord, LifecycleCategory } from "./audit-entry.ts";
import type { ConveyorEvent, ConveyorEventData, ConveyorEventType, QueueEvents } from "./events.ts";

type Listener = (event: ConveyorEvent) => void;

/** Which event feeds each category, and the entry it makes. Details stay small: no payloads, results or error messages. */
const CATEGORIES: Readonly<Record<LifecycleCategory, { type: ConveyorEventType; entry(data: ConveyorEventData): AuditRecord }>> = {
  started: { type: "active", entry: (e) => job(e, "started", "ok", e.type === "active" ? { attempt: e.attempt, workerId: e.workerId } : null) },
  completed: { type: "completed", entry: (e) => job(e, "completed", "ok", e.type === "completed" ? { attempt: e.attempt, durationMs: e.durationMs } : null) },
  failed: {
    type: "failed",
    entry: (e) => job(e, "failed", "failed", e.type === "failed" ? { attempt: e.attempt, final: e.final, error: e.error.name, ...(e.error.code ? { code: e.error.code } : {}) } : null),
  },
  dead: { type: "dead", entry: (e) => job(e, "dead", "failed", e.type === "dead" ? { reason: e.deadLetter.reason } : null) },
  stalled: { type: "stalled", entry: (e) => job(e, "stalled", "failed", e.type === "stalled" ? { stalls: e.stalls, requeued: e.requeued } : null) },
  scheduled: {
    type: "scheduled",
    entry: (e) => ({
      ...job(e, "scheduled", "ok", e.type === "scheduled" ? { tickAt: e.tickAt } : null),
      ...(e.type === "scheduled" ? { actor: `schedule:${e.scheduleId}`, actorType: "schedule" as const, scheduleId: e.scheduleId } : {}),
    }),
  },
};

function job(e: ConveyorEventData, category: LifecycleCategory, outcome: AuditRecord["outcome"], details: Record<string, unknown> | null): AuditRecord {
  return {
    action: `job.${category}`,
    actor: "system",
    actorType: "system",
    queue: e.queue,
    jobId: "jobId" in e ? e.jobId : null,
    outcome,
    details,
    at: e.at,
  };
}

/**
 * Records the listed categories from one queue's events (which come from every process sharing
 * its store). Returns what stops it. Listening makes the queue subscribe to those event types,
 * so stores that skip events nobody hears (Redis) now build them: lifecycle entries cost that.
 */
export function watchLifecycle(
  queue: { readonly events: QueueEvents },
  categories: readonly LifecycleCategory[],
  record: (entry: AuditRecord) => void,
): () => void {
  const listeners: [ConveyorEventType, Listener][] = categories.map((category) => {
    const { type, entry } = CATEGORIES[category];
    return [type, (event: ConveyorEvent) => record(entry(event.data))];
  });
  for (const [type, listener] of listeners) queue.events.addEventListener(type, listener);
  return () => {
    for (const [type, listener] of listeners) queue.events.removeEventListener(type, listener);
  };
}
