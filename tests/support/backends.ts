import type { QueueStore } from "../../mod.ts";
import { MemoryStore } from "../../mod.ts";
import { createStorage } from "unstorage";
import { RedisStore } from "../../src/store/redis/store.ts";
import { UnstorageStore } from "../../src/store/unstorage.ts";
import { type RedisServer, startRedis } from "./redis-server.ts";

/** A backend under test: each call to `create` gives a fresh, empty store. */
export interface Backend {
  readonly name: string;
  /** Real ms a FakeClock lets work settle after each timer (network round trips need some). */
  readonly settleMs: number;
  /** Starts what the backend needs (a server) before a suite; `teardown` stops it. */
  setup(): Promise<void>;
  teardown(): Promise<void>;
  create(): Promise<QueueStore> | QueueStore;
}

let stores = 0;

function redisBackend(): Backend {
  let server: RedisServer | undefined;
  return {
    name: "redis",
    settleMs: 5,
    async setup() {
      server = await startRedis();
    },
    async teardown() {
      await server?.stop();
      server = undefined;
    },
    // A fresh key prefix per store: no test sees another's keys, in any order.
    create: () => new RedisStore({ connection: server!.url, prefix: `test${++stores}-${crypto.randomUUID().slice(0, 8)}` }),
  };
}

/** Every backend the shared suites run against. */
export const backends: readonly Backend[] = [
  { name: "memory", settleMs: 0, setup: async () => {}, teardown: async () => {}, create: () => new MemoryStore() },
  redisBackend(),
  {
    name: "unstorage",
    settleMs: 0,
    setup: async () => {},
    teardown: async () => {},
    // unstorage's memory driver: a new storage per store, written through like any driver.
    create: () => UnstorageStore.open({ storage: createStorage() }),
  },
];
