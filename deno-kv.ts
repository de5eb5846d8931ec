/**
 * `DenoKvStore`: queues in Deno KV (`Deno.openKv()`, or `@deno/kv` on Node and Bun), shared by
 * every isolate or process that opens the same database.
 * @module
 */
export { DenoKvStore, type DenoKvStoreOptions } from "./src/store/deno-kv/store.ts";
export type { DenoKv } from "./src/store/deno-kv/kv.ts";
