/**
 * `UnstorageStore`: queues kept in any unstorage driver, for one process that must survive
 * restarts. Needs the `unstorage` package.
 * @module
 */
export { type KeyValueStorage, UnstorageStore, type UnstorageStoreOptions } from "./src/store/unstorage.ts";
