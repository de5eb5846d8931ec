import type { QueueStore } from "./store-contract.ts";
import { ConveyorError } from "./errors.ts";

/**
 * Refuses to run workers on a store that cannot claim safely, saying why and what to use:
 * claims on an eventually consistent store would hand one job to several workers.
 */
export function assertSafeForWorkers(store: QueueStore, queue: string): void {
  if (!store.capabilities.consistent) {
    throw new ConveyorError(
      "UNSAFE_SETUP",
      `Cannot run a worker for queue "${queue}" on an eventually consistent store: two workers could claim the same job. ` +
        "Keep jobs in RedisStore or DenoKvStore for workers; an eventually consistent KV can still hold other data.",
    );
  }
}
