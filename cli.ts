/**
 * The `conveyor` command from the TypeScript sources (Deno, or Bun without a build):
 * `deno run -A jsr:@conveyorkit/conveyor/cli token --scopes admin`.
 * @module
 */
import process from "node:process";
import { nodeFiles } from "./src/adapter/files.ts";
import { runCli } from "./src/cli/main.ts";

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  files: nodeFiles,
});
