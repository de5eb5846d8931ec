// The exported conformance suite (basics, the transition table, sharing, restarts) on every store.
import { storeConformance } from "../testing/mod.ts";
import { backends } from "./support/backends.ts";

for (const backend of backends) storeConformance(backend);
