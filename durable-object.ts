/**
 * Cloudflare Durable Objects for Conveyor: `DurableObjectStore` (in the Worker) keeps the queues
 * in a `ConveyorStoreObject` (export it from the Worker: `@conveyorkit/conveyor/adapter/cloudflare-store`).
 * @module
 */
export { DurableObjectStore, type DurableObjectStoreOptions, type StoreNamespace } from "./src/store/durable-object/store.ts";
export type { StoreCall, StoreMethod, StoreReply, StoreStub } from "./src/store/durable-object/protocol.ts";
export { StoreHost, type StoreHostOptions, type AlarmControl } from "./src/store/durable-object/host.ts";
export type { SqlStorage, TransactionSync } from "./src/store/durable-object/sql.ts";
