// Cloudflare Durable Objects: the class that holds a DurableObjectStore's queues. Export it from
// the Worker (`export { ConveyorStoreObject } from ".../adapter/cloudflare-store"`) and bind it
// in wrangler.toml with a `new_sqlite_classes` migration. Everything it does is in
// src/store/durable-object/host.ts; this file only hands it the object's storage and alarm.
import { DurableObject, type DurableObjectState } from "cloudflare:workers";
import type { StoreCall, StoreReply } from "../store/durable-object/protocol.ts";
import { StoreHost } from "../store/durable-object/host.ts";
import { reportError } from "../util/report-error.ts";

/** What the alarm calls: a service binding to the Worker's `ConveyorWake`-style entrypoint. */
export interface WakeTarget {
  wake(): Promise<unknown> | unknown;
}

export interface ConveyorStoreEnv {
  /** Given, the object's alarm wakes the Worker for delayed jobs, retries, lapsed leases and schedule ticks. */
  CONVEYOR_WAKE?: WakeTarget;
}

export class ConveyorStoreObject<Env extends ConveyorStoreEnv = ConveyorStoreEnv> extends DurableObject<Env> {
  readonly #host: StoreHost;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const storage = ctx.storage;
    // SQLite calls are synchronous: the whole state is read back before the first call runs.
    this.#host = new StoreHost({
      sql: storage.sql,
      transactionSync: (body) => storage.transactionSync(body),
      alarm: env.CONVEYOR_WAKE ? { set: (at) => storage.setAlarm(at), delete: () => storage.deleteAlarm() } : undefined,
    });
  }

  /** Every store method, by name (see DurableObjectStore). */
  call(request: StoreCall): Promise<StoreReply> {
    return this.#host.call(request);
  }

  async alarm(): Promise<void> {
    try {
      if (await this.#host.due()) await this.wake();
    } catch (error) {
      reportError(error, "waking the Worker from the Durable Object's alarm failed");
    }
    // Whatever is still due is looked at again shortly (the Worker may still be draining).
    await this.#host.rearm();
  }

  /** Wakes the Worker to drain and tick; override to wake it another way. */
  protected async wake(): Promise<void> {
    await this.env.CONVEYOR_WAKE?.wake();
  }
}
