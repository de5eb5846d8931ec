// The runtime adapter for the runtime running the tests.
import type { RuntimeAdapter } from "../../src/adapter/contract.ts";
import { runtime } from "./runtime.ts";

export async function currentAdapter(): Promise<RuntimeAdapter> {
  if (runtime === "bun") return (await import("../../src/adapter/bun.ts")).bunAdapter();
  if (runtime === "deno") return (await import("../../src/adapter/deno.ts")).denoAdapter();
  return (await import("../../src/adapter/node.ts")).nodeAdapter();
}
