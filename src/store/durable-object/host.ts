import { ConveyorError } from "../../core/errors.ts";
import type { ConveyorEventData } from "../../core/events.ts";
import { MemoryStore } from "../memory/store.ts";
import { EventLog } from "./event-log.ts";
import { STORE_METHODS, type StoreCall, type StoreReply } from "./protocol.ts";
import { type SqlStorage, SqlTables, type TransactionSync } from "./sql.ts";

/** The alarm of the object (`ctx.storage.setAlarm` / `deleteAlarm`). */
export interface AlarmControl {
  set(at: number): Promise<void> | void;
  delete(): Promise<void> | void;
}

export interface StoreHostOptions {
  sql: SqlStorage;
  transactionSync: TransactionSync;
  /** Given, the object sets its alarm for the next due job, lapsing lease or asked-for wake. */
  alarm?: AlarmControl;
  /** Real time, for the alarm only (jobs' times are the callers'). @default Date.now */
  realNow?: () => number;
  /** Events kept for Workers to read. @default 5_000 */
  eventLogSize?: number;
  /** When waiting jobs are left unclaimed (a Worker stopped mid-drain), the alarm wakes one this much later. @default 1_000 */
  idleWakeMs?: number;
}

const METHODS = new Set<string>(STORE_METHODS);
/** Methods that change nothing: no journal to write, no alarm to move. */
const READS = new Set<string>(["get", "list", "counts", "isPaused", "getRecord", "listRecords", "listAudit", "poll"]);

/**
 * The inside of a Durable Object store, with no Workers types: the memory store runs every
 * transition (the core's state machine, as on every store) and the changes it journals are
 * written to SQLite in one transaction before the call returns. Durable Objects run one
 * object per id and its storage calls are synchronous, so nothing interleaves inside a call:
 * every transition is atomic for all the Workers that share the object.
 */
export class StoreHost {
  readonly #memory = new MemoryStore({ journal: true });
  readonly #tables: SqlTables;
  readonly #events: EventLog;
  readonly #alarm: AlarmControl | undefined;
  readonly #realNow: () => number;
  readonly #idleWakeMs: number;
  readonly #queues = new Set<string>();
  #wakeAt: number | null;
  #alarmAt: number | null = null;

  constructor(options: StoreHostOptions) {
    this.#tables = new SqlTables(options.sql, options.transactionSync);
    this.#events = new EventLog((queue, listener, types) => this.#memory.subscribe(queue, listener, types), options.eventLogSize ?? 5_000);
    this.#alarm = options.alarm;
    this.#realNow = options.realNow ?? (() => Date.now());
    this.#idleWakeMs = options.idleWakeMs ?? 1_000;
    const stored = this.#tables.load();
    for (const [queue, { jobs, paused }] of stored.queues) {
      this.#memory.restore(queue, jobs, paused);
      this.#queues.add(queue);
    }
    this.#memory.auditLog.restore(stored.audit.entries, stored.audit.last);
    this.#wakeAt = stored.wakeAt;
  }

  /** One store call from a Worker: run, store what changed, move the alarm, answer with events. */
  async call(request: StoreCall): Promise<StoreReply> {
    if (!request || !METHODS.has(request.method) || !Array.isArray(request.args)) {
      throw new TypeError(`A Durable Object store call needs { method, args }: method one of ${STORE_METHODS.join(", ")}`);
    }
    for (const [queue, types] of Object.entries(request.watch ?? {})) this.#events.watch(queue, types);
    const result = await this.#run(request.method, request.args);
    if (!READS.has(request.method)) {
      this.#tables.write(this.#memory.drainChanges(), this.#memory.auditLog.drain());
      await this.#moveAlarm(0);
    }
    const watched = new Set(Object.keys(request.watch ?? {}));
    const { events, gap } = request.since === undefined || watched.size === 0 ? { events: [], gap: false } : this.#events.after(request.since, watched);
    return { result, events, seq: this.#events.seq, gap };
  }

  /**
   * The alarm rang: true when something is due (the Worker should be woken to drain and tick).
   * Call `rearm()` after waking it.
   */
  async due(): Promise<boolean> {
    this.#alarmAt = null;
    const next = await this.#nextWake();
    return next !== null && next <= this.#realNow();
  }

  /** Sets the alarm again after a wake: what is still due is looked at again `idleWakeMs` later, not at once. */
  async rearm(): Promise<void> {
    if (this.#wakeAt !== null && this.#wakeAt <= this.#realNow()) {
      this.#wakeAt = null;
      this.#tables.setWakeAt(null);
    }
    await this.#moveAlarm(this.#idleWakeMs);
  }

  async #run(method: string, args: readonly unknown[]): Promise<unknown> {
    const [a, b, c, d] = args as [never, never, never, never];
    switch (method) {
      case "getRecord": return this.#tables.getRecord(a, b);
      case "putRecord": return this.#tables.putRecord(a, b, storable(c, "record"));
      case "deleteRecord": return this.#tables.deleteRecord(a, b);
      case "listRecords": return this.#tables.listRecords(a);
      case "compareAndSetRecord": return this.#tables.compareAndSetRecord(a, b, c, storable(d, "record"));
      case "appendAudit": return await this.#memory.appendAudit(storable(a, "audit entry"));
      case "listAudit": return await this.#memory.listAudit(a);
      case "trimAudit": return await this.#memory.trimAudit(a);
      case "publish": return this.#memory.publish(a, b as ConveyorEventData);
      case "enqueueFlow": return await this.#memory.enqueueFlow(storable(a, "payload"));
      case "poll": return null;
      case "wakeAt": {
        this.#wakeAt = typeof a === "number" && Number.isFinite(a) ? a : null;
        this.#tables.setWakeAt(this.#wakeAt);
        return null;
      }
    }
    if (typeof a !== "string") throw new TypeError(`${method}: the queue name must be a string`);
    this.#queues.add(a);
    if (method === "enqueue" || method === "finish" || method === "setProgress" || method === "saveStep") storable(b, "job data");
    const run = (this.#memory as unknown as Record<string, (...args: readonly unknown[]) => Promise<unknown>>)[method]!;
    return await run.apply(this.#memory, [...args]);
  }

  /** The earliest of: a delayed job due, a lease lapsing, a wake asked for; waiting jobs count `idleWakeMs` from now. */
  async #nextWake(): Promise<number | null> {
    let next = this.#wakeAt ?? Infinity;
    const now = this.#realNow();
    for (const queue of this.#queues) {
      if (await this.#memory.isPaused(queue)) continue;
      const counts = await this.#memory.counts(queue);
      if (counts.waiting > 0) next = Math.min(next, now + this.#idleWakeMs);
      // Delayed jobs are listed by due time, active ones all (as many as Workers run at once).
      if (counts.delayed > 0) next = Math.min(next, (await this.#memory.list(queue, "delayed", { offset: 0, limit: 1 }))[0]?.runAt ?? Infinity);
      if (counts.active > 0) {
        for (const job of await this.#memory.list(queue, "active", { offset: 0, limit: counts.active })) next = Math.min(next, job.lease?.expiresAt ?? Infinity);
      }
    }
    return next === Infinity ? null : next;
  }

  async #moveAlarm(minimumDelayMs: number): Promise<void> {
    if (!this.#alarm) return;
    const next = await this.#nextWake();
    const at = next === null ? null : Math.max(next, this.#realNow() + minimumDelayMs);
    if (at === this.#alarmAt) return;
    this.#alarmAt = at;
    if (at === null) await this.#alarm.delete();
    else await this.#alarm.set(at);
  }
}

/** Job data is stored as JSON: what JSON cannot hold is refused before anything changes. */
function storable<T>(value: T, what: string): T {
  try {
    JSON.stringify(value);
  } catch {
    // No cause: JSON.stringify's own message can quote the data's keys.
    throw new ConveyorError(
      "VALIDATION_FAILED",
      `Invalid ${what}: the Durable Object store keeps job data as JSON, and this value cannot be written as JSON (a BigInt, a cycle, or a toJSON that throws)`,
      { issues: [{ path: "", message: "expected a value JSON.stringify can write" }] },
    );
  }
  return value;
}
