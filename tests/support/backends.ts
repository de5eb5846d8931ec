import type { QueueStore } from "../../mod.ts";
import { MemoryStore } from "../../mod.ts";

/** A backend under test: each call to `create` gives a fresh, empty store. */
export interface Backend {
  readonly name: string;
  create(): Promise<QueueStore> | QueueStore;
}

/** Every backend the shared suites run against. Later backends add themselves here. */
export const backends: readonly Backend[] = [
  { name: "memory", create: () => new MemoryStore() },
];
