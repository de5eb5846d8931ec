#!/usr/bin/env node
// `npm test`: the import-direction check, type checks, then the same test files under Node, Deno and Bun. Each runtime
// prints its own summary; any failure fails the whole command. The last line adds up the
// tests of all three runtimes as "tests: N passed, N failed".
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => `${root}node_modules/.bin/${name}`;
const tests = readdirSync(`${root}tests`).filter((f) => f.endsWith(".test.ts")).sort().map((f) => `tests/${f}`);
const only = process.argv.slice(2);

// Leaf tests in TAP output (Node and Deno): a result line is a suite, not a test, when it
// directly follows the plan ("1..N") of its deeper-indented children.
function tapLeaves(out) {
  let passed = 0;
  let failed = 0;
  let previous = { indent: -1, plan: false };
  for (const line of out.split("\n")) {
    const match = line.match(/^(\s*)(ok|not ok) \d+/);
    const plan = line.match(/^(\s*)1\.\.\d+/);
    if (match) {
      const indent = match[1].length;
      const isSuite = previous.plan && previous.indent > indent;
      if (!isSuite && !/# SKIP|# TODO/.test(line)) match[2] === "ok" ? passed++ : failed++;
      previous = { indent, plan: false };
    } else if (plan) {
      previous = { indent: plan[1].length, plan: true };
    }
  }
  return [passed, failed];
}

const count = (text, pattern) => Number(text.match(pattern)?.[1] ?? 0);
const summaries = {
  node: tapLeaves,
  deno: tapLeaves,
  bun: (out) => [count(out, /^ *(\d+) pass$/m), count(out, /^ *(\d+) fail$/m)],
};

const steps = [
  // src/core imports nothing else from src, and no file in src is part of an import cycle.
  ["imports", process.execPath, ["scripts/check-imports.mjs"]],
  ["typecheck-core", bin("tsc"), ["--noEmit", "-p", "tsconfig.json"]],
  ["typecheck-tools", bin("tsc"), ["--noEmit", "-p", "tsconfig.tools.json"]],
  // dist/ as published: the package tests pack it and the Workers examples bundle it.
  ["build", bin("tsc"), ["-p", "tsconfig.build.json"]],
  ["node", process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", "--test-force-exit", "--test-timeout=120000", "--test-reporter=tap", ...tests]],
  ["deno", bin("deno"), ["test", "--allow-all", "--unstable-kv", "--no-check", "--reporter=tap", ...tests]],
  ["bun", bin("bun"), ["test", "--timeout", "60000", ...tests.map((t) => `./${t}`)]],
].filter(([name]) => only.length === 0 || name === "build" || only.some((o) => name.startsWith(o)));

// A runtime that hangs (a handle left open, a deadlock) is killed with everything it started
// and counted as failed, so the command always ends. Each takes one to two minutes here.
const stepLimitMs = Number(process.env.CONVEYOR_TEST_STEP_LIMIT_MS ?? 10 * 60_000);

function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      detached: true, // its own process group, so the watchdog also reaches redis-servers and workers it spawned
    });
    const watchdog = setTimeout(() => {
      process.stderr.write(`\n!!! ${command} ran past ${stepLimitMs / 1000} s: killing it and everything it started\n`);
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, stepLimitMs);
    let output = "";
    const tee = (target) => (chunk) => {
      output += chunk;
      target.write(chunk);
    };
    child.stdout.on("data", tee(process.stdout));
    child.stderr.on("data", tee(process.stderr));
    child.on("close", (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code: code ?? signal, output: output.replace(/\x1b\[[0-9;]*m/g, "") });
    });
  });
}

let passed = 0;
let failed = 0;
let brokenSteps = 0;
for (const [name, command, args] of steps) {
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  const { code, output } = await run(command, args);
  const ok = code === 0;
  if (!ok) brokenSteps++;
  if (summaries[name]) {
    const [p, f] = summaries[name](output);
    passed += p;
    failed += f;
    // A runtime that crashed before summarising still fails the run.
    if (!ok && f === 0) failed++;
    console.log(`=== ${name}: ${p} passed, ${f} failed, exit ${code}, ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
  } else {
    console.log(`=== ${name}: ${ok ? "ok" : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
    if (!ok) failed++;
  }
}
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(brokenSteps === 0 && failed === 0 ? 0 : 1);
