import { backends } from "./support/backends.ts";
import { storeConformance } from "./support/store-conformance.ts";

for (const backend of backends) storeConformance(backend);
