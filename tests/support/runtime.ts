// Which runtime runs the tests, and how to start a TypeScript script on that same runtime.
import process from "node:process";

declare const Deno: unknown;
declare const Bun: unknown;

export const runtime: "deno" | "bun" | "node" = typeof Deno !== "undefined"
  ? "deno"
  : typeof Bun !== "undefined"
  ? "bun"
  : "node";

/** The command that runs `script` (a .ts file) under the current runtime. */
export function scriptCommand(script: string): [string, string[]] {
  if (runtime === "deno") return [process.execPath, ["run", "--allow-all", "--unstable-kv", script]];
  if (runtime === "bun") return [process.execPath, [script]];
  return [process.execPath, ["--import", "tsx", script]];
}
