#!/usr/bin/env node
// The `conveyor` command on Node and Bun, from the built package.
import process from "node:process";
import { nodeFiles } from "../dist/src/adapter/files.js";
import { runCli } from "../dist/src/cli/main.js";

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  files: nodeFiles,
});
