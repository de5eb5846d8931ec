import type { QueueStore } from "../../mod.ts";
import { MemoryStore } from "../../mod.ts";
import { createStorage, type Storage } from "unstorage";
import { RedisStore } from "../../src/store/redis/store.ts";
import { UnstorageStore } from "../../src/store/unstorage.ts";
import { DenoKvStore } from "../../src/store/deno-kv/store.ts";
import type { StoreUnderTest } from "../../testing/mod.ts";
import { type ClosableKv, openDenoKv, tempKvPath } from "./deno-kv.ts";
import { type RedisServer, startRedis } from "./redis-server.ts";

/** A backend under test: each call to `create` gives a fresh, empty store. */
export interface Backend extends StoreUnderTest {
  /** Real ms a FakeClock lets work settle after each timer (network round trips need some). */
  readonly settleMs: number;
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

let stores = 0;
const freshPrefix = () => `test${++stores}-${crypto.randomUUID().slice(0, 8)}`;

function redisBackend(): Backend {
  let server: RedisServer | undefined;
  // Closed at teardown even when a failing test never closed its own: an open client
  // reconnecting to a stopped server would keep the test process alive forever.
  const open = new Set<RedisStore>();
  const prefixes = new WeakMap<QueueStore, string>();
  const make = (prefix: string) => {
    const store = new RedisStore({ connection: server!.url, prefix, leaseClock: "caller" });
    open.add(store);
    prefixes.set(store, prefix);
    return store;
  };
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
    // A fresh key prefix per store: no test sees another's keys, in any order.
    create: () => make(freshPrefix()),
    // Another client on the same keys, as another process would be.
    sibling: (store) => make(prefixes.get(store)!),
    async reopen(store) {
      await store.close();
      return make(prefixes.get(store)!);
    },
    processes: {
      module: "tests/fixtures/open-redis.ts",
      env: (store) => ({ REDIS_URL: server!.url, STORE_PREFIX: prefixes.get(store)! }),
      jobs: 3_000,
    },
  };
}

function denoKvBackend(): Backend {
  let kv: ClosableKv | undefined;
  let file: ReturnType<typeof tempKvPath> | undefined;
  const open = new Set<DenoKvStore>();
  const extraKvs = new Set<ClosableKv>();
  const prefixes = new WeakMap<QueueStore, string>();
  const make = (prefix: string, on: ClosableKv) => {
    const store = new DenoKvStore({ kv: on, prefix });
    open.add(store);
    prefixes.set(store, prefix);
    return store;
  };
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
      for (const other of extraKvs) other.close();
      extraKvs.clear();
      kv?.close();
      file?.remove();
    },
    // One SQLite file per suite, a fresh key prefix per store.
    create: () => make(freshPrefix(), kv!),
    // A second connection to the same file, as another process would open it.
    async sibling(store) {
      const other = await openDenoKv(file!.path);
      extraKvs.add(other);
      return make(prefixes.get(store)!, other);
    },
    async reopen(store) {
      await store.close();
      const other = await openDenoKv(file!.path);
      extraKvs.add(other);
      return make(prefixes.get(store)!, other);
    },
    processes: {
      module: "tests/fixtures/open-deno-kv.ts",
      env: (store) => ({ KV_PATH: file!.path, STORE_PREFIX: prefixes.get(store)! }),
      jobs: 1_000,
    },
  };
}

function unstorageBackend(): Backend {
  const storages = new WeakMap<QueueStore, Storage>();
  const open = async (storage: Storage) => {
    const store = await UnstorageStore.open({ storage });
    storages.set(store, storage);
    return store;
  };
  return {
    name: "unstorage",
    settleMs: 0,
    setup: async () => {},
    teardown: async () => {},
    // unstorage's memory driver: a new storage per store, written through like any driver.
    create: () => open(createStorage()),
    // The same storage read back by a new store, as a restarted process would.
    async reopen(store) {
      await store.close();
      return await open(storages.get(store)!);
    },
  };
}

/** Every backend the shared suites run against. */
export const backends: readonly Backend[] = [
  { name: "memory", settleMs: 0, setup: async () => {}, teardown: async () => {}, create: () => new MemoryStore() },
  redisBackend(),
  denoKvBackend(),
  unstorageBackend(),
];
