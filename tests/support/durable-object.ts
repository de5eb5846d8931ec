// A Durable Object store backend for the shared suites: the object runs in workerd (miniflare)
// with SQLite storage, and the store talks to it over RPC, as a Worker's would.
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import type { QueueStore } from "../../mod.ts";
import { DurableObjectStore } from "../../src/store/durable-object/store.ts";
import type { StoreCall, StoreReply, StoreStub } from "../../src/store/durable-object/protocol.ts";
import type { StoreUnderTest } from "../../testing/mod.ts";
import { decode, encode } from "./json-relay.ts";

/** Bundles a Worker module as wrangler does: workerd's modules stay imports. */
export async function bundleWorker(entry: string): Promise<string> {
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:*"],
    write: false,
    logLevel: "silent",
  });
  return bundle.outputFiles[0]!.text;
}

interface TestStub {
  callJson(request: string): Promise<string>;
  restart(): Promise<void>;
}

export function durableObjectBackend(): StoreUnderTest & { miniflare(): Miniflare } {
  let mf: Miniflare | undefined;
  let stores = 0;
  const names = new WeakMap<QueueStore, string>();
  const open = new Set<DurableObjectStore>();
  const stubOf = async (name: string): Promise<TestStub> => {
    const namespace = await mf!.getDurableObjectNamespace("CONVEYOR") as unknown as { idFromName(name: string): unknown; get(id: unknown): TestStub };
    return namespace.get(namespace.idFromName(name));
  };
  const make = async (name: string) => {
    const stub = await stubOf(name);
    // The object's own `call`, reached over miniflare's RPC bridge as JSON text.
    const relay: StoreStub = { call: async (request: StoreCall) => decode<StoreReply>(await stub.callJson(encode(request))) };
    const store = new DurableObjectStore({ stub: relay, pollMs: 20 });
    names.set(store, name);
    open.add(store);
    return store;
  };
  return {
    name: "durable-object (miniflare)",
    miniflare: () => mf!,
    async setup() {
      mf = new Miniflare({
        modules: true,
        script: await bundleWorker("tests/fixtures/durable-object-worker.ts"),
        compatibilityDate: "2025-09-01",
        durableObjects: { CONVEYOR: { className: "TestStoreObject", useSQLite: true } },
      });
      await mf.ready;
    },
    async teardown() {
      await Promise.all([...open].map((store) => store.close()));
      await mf?.dispose();
    },
    // A fresh object per store: no test sees another's jobs.
    create: () => make(`store-${++stores}-${crypto.randomUUID().slice(0, 8)}`),
    // Another Worker's client of the same object.
    sibling: (store) => make(names.get(store)!),
    // The object itself is ended; the new client's first call starts it again from SQLite.
    async reopen(store) {
      await store.close();
      const name = names.get(store)!;
      await (await stubOf(name)).restart().catch(() => {}); // aborting answers the call with an error
      return await make(name);
    },
  };
}
