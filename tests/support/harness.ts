import type { Backend } from "./backends.ts";
import { type Conveyor, createConveyor, FakeClock, type QueueStore } from "../../mod.ts";
import { waitFor } from "../../testing/target.ts";

export interface Harness {
  readonly clock: FakeClock;
  readonly store: QueueStore;
  readonly conveyor: Conveyor;
}

/** A fresh store, a fake clock and a conveyor over them; closed by the caller via `close`. */
export async function setup(backend: Backend): Promise<Harness & { close(): Promise<void> }> {
  // Across a network, fake time waits for the worker's store calls: a round trip under load
  // must not look like a lapsed lease.
  const clock = new FakeClock({ settleMs: backend.settleMs, trackedWaitMs: backend.settleMs > 0 ? 2_000 : 0 });
  const store = await backend.create();
  const conveyor = createConveyor({ store, clock });
  return {
    clock,
    store,
    conveyor,
    close: () => conveyor.close({ timeoutMs: 0 }),
  };
}

/** Lets async work settle (with the fake clock standing still) until `check` holds, for up to `timeoutMs` of real time. */
export async function eventually(clock: FakeClock, check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await clock.flush(1);
  }
}

/** A promise with its resolvers outside, for handlers a test finishes by hand. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}


/** Polls `check` in real time (for work that crosses processes or the network). */
export function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  return waitFor(check, what, timeoutMs);
}
