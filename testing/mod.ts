// `@conveyorkit/conveyor/testing`: what a store written outside this repository needs to prove itself.
export { storeConformance } from "./store-conformance.ts";
export { newJob, type StoreUnderTest } from "./target.ts";
export { TRANSITIONS } from "./transition-rows.ts";
export type { TransitionCase } from "./transition-table.ts";
