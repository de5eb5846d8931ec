import type { QueueStore } from "../../mod.ts";
import { MemoryStore } from "../../mod.ts";
import { createStorage } from "unstorage";
import { RedisStore } from "../../src/store/redis/store.ts";
import { UnstorageStore } from "../../src/store/unstorage.ts";
import { DenoKvStore } from "../../src/store/deno-kv/store.ts";
import { type ClosableKv, openDenoKv, tempKvPath } from "./deno-kv.ts";
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
  // Closed at teardown even when a failing test never closed its own: an open client
  // reconnecting to a stopped server would keep the test process alive forever.
  const open = new Set<RedisStore>();
  return {
    name: "redis",
    settleMs: 5,
    async setup() {
      server = await startRedis();
    },
    async teardown() {
      await Promise.all([...open].map((store) => store.close()));
      open.clear();
      await server?.stop();
      server = undefined;
    },
    // A fresh key prefix per store: no test sees another's keys, in any order. Leases follow the
    // caller's (fake) clock here, as every other backend's do; the server clock is tested with real processes.
    create: () => {
      const prefix = `test${++stores}-${crypto.randomUUID().slice(0, 8)}`;
      const store = new RedisStore({ connection: server!.url, prefix, leaseClock: "caller" });
      open.add(store);
      return store;
    },
  };
}

function denoKvBackend(): Backend {
  let kv: ClosableKv | undefined;
  let file: ReturnType<typeof tempKvPath> | undefined;
  const open = new Set<DenoKvStore>();
  return {
    name: "deno-kv",
    settleMs: 5,
    async setup() {
      file = tempKvPath();
      kv = await openDenoKv(file.path);
    },
    async teardown() {
      await Promise.all([...open].map((store) => store.close()));
      open.clear();
      kv?.close();
      file?.remove();
    },
    // One SQLite file per suite, a fresh key prefix per store.
    create: () => {
      const store = new DenoKvStore({ kv: kv!, prefix: `test${++stores}-${crypto.randomUUID().slice(0, 8)}` });
      open.add(store);
      return store;
    },
  };
}

/** Every backend the shared suites run against. */
export const backends: readonly Backend[] = [
  { name: "memory", settleMs: 0, setup: async () => {}, teardown: async () => {}, create: () => new MemoryStore() },
  redisBackend(),
  denoKvBackend(),
  {
    name: "unstorage",
    settleMs: 0,
    setup: async () => {},
    teardown: async () => {},
    // unstorage's memory driver: a new storage per store, written through like any driver.
    create: () => UnstorageStore.open({ storage: createStorage() }),
  },
];
