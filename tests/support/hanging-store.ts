// A QueueStore whose every call never answers: a store (or its network) that hangs.
import type { QueueStore, StoreCapabilities } from "../../mod.ts";

/** Every method returns a promise that never settles; `calls` counts what was asked. */
export function hangingStore(): QueueStore & { calls: string[] } {
  const calls: string[] = [];
  const capabilities: StoreCapabilities = { sharedAcrossProcesses: true, durable: true, consistent: true };
  const never = () => new Promise<never>(() => {});
  class HangingStore {
    capabilities = capabilities;
    calls = calls;
    publish() {}
    subscribe() {
      return { ready: never(), close: () => {} };
    }
    async close() {}
  }
  const fixed = new HangingStore() as unknown as Record<string, unknown>;
  // A Proxy, so it stays a whole store whatever methods the contract gains.
  return new Proxy(fixed, {
    get(target, name) {
      if (typeof name !== "string") return undefined;
      if (name in target) return target[name];
      if (name === "then" || name === "health") return undefined; // not a thenable, no probe of its own
      return (..._args: unknown[]) => {
        calls.push(name);
        return never();
      };
    },
  }) as unknown as QueueStore & { calls: string[] };
}
