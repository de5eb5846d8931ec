// The shared store conformance suite on the Durable Object store: the object runs in workerd
// (miniflare) with SQLite storage; the suite drives it over RPC from the test runtime.
import { storeConformance } from "../testing/mod.ts";
import { durableObjectBackend } from "./support/durable-object.ts";

storeConformance(durableObjectBackend());
