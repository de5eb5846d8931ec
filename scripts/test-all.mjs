#!/usr/bin/env node
// `npm test`: type checks, then the same test files under Node, Deno and Bun. Each runtime
// prints its own summary; any failure fails the whole command. Ends with one plain
// "N passed, N failed" line counting runtimes.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => `${root}node_modules/.bin/${name}`;
const tests = readdirSync(`${root}tests`).filter((f) => f.endsWith(".test.ts")).sort().map((f) => `tests/${f}`);
const only = process.argv.slice(2);

const steps = [
  ["typecheck (core, Web APIs only)", bin("tsc"), ["--noEmit", "-p", "tsconfig.json"]],
  ["typecheck (tests, examples, bench)", bin("tsc"), ["--noEmit", "-p", "tsconfig.tools.json"]],
  ["node", process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...tests]],
  ["deno", bin("deno"), ["test", "--allow-all", "--no-check", ...tests]],
  ["bun", bin("bun"), ["test", "--timeout", "60000", ...tests.map((t) => `./${t}`)]],
].filter(([name]) => only.length === 0 || only.some((o) => name.startsWith(o)));

let passed = 0;
let failed = 0;
for (const [name, command, args] of steps) {
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  const ok = result.status === 0;
  console.log(`=== ${name}: ${ok ? "ok" : `FAILED (exit ${result.status ?? result.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
  if (ok) passed++;
  else failed++;
}
console.log(`\nruntimes and checks: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
