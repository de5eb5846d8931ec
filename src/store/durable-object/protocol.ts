import type { ConveyorEventData, ConveyorEventType } from "../../core/events.ts";

/**
 * What a Worker sends its Durable Object over RPC, and what comes back. One method, `call`,
 * carries every store method by name, so the object's surface is one checked entry point.
 */

/** The store methods the object runs, plus `wakeAt` (ask for an alarm) and `poll` (only events). */
export const STORE_METHODS = [
  "enqueue", "enqueueFlow", "claim", "extendLeases", "finish", "release", "setProgress", "appendLog", "saveStep",
  "recoverStalled", "cancel", "retry", "remove", "clean", "get", "list", "counts", "setPaused", "isPaused",
  "getRecord", "putRecord", "deleteRecord", "listRecords", "compareAndSetRecord",
  "appendAudit", "listAudit", "trimAudit", "publish", "wakeAt", "poll",
] as const;

export type StoreMethod = (typeof STORE_METHODS)[number];

export interface StoreCall {
  readonly method: StoreMethod;
  readonly args: readonly unknown[];
  /** The caller's last event sequence number: events after it, of the watched queues, come back. */
  readonly since?: number;
  /** Queues (and event types) the caller's subscribers want: the object starts keeping their events. */
  readonly watch?: Readonly<Record<string, readonly ConveyorEventType[]>>;
}

export interface LoggedEvent {
  readonly seq: number;
  readonly event: ConveyorEventData;
}

export interface StoreReply {
  readonly result: unknown;
  /** Events of the watched queues after `since`, in order (empty when nothing was watched). */
  readonly events: readonly LoggedEvent[];
  /** The object's latest event sequence number. */
  readonly seq: number;
  /** True when events after `since` were dropped from the object's log before the caller asked. */
  readonly gap: boolean;
}

/** What a Worker holds: a Durable Object stub (`env.CONVEYOR.get(id)`), or anything answering alike. */
export interface StoreStub {
  call(request: StoreCall): Promise<StoreReply>;
}
