import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { runtime, scriptCommand } from "./support/runtime.ts";

function run(script: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const [command, args] = scriptCommand(script);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let output = "";
    child.stdout.on("data", (chunk) => output += chunk);
    child.stderr.on("data", (chunk) => output += chunk);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not finish in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test(`the demo runs to completion on ${runtime}`, async () => {
  const { code, output } = await run("examples/demo.ts", 60_000);
  assert.equal(code, 0, output);
  assert.match(output, /All settled in [\d.]+ s: 301 completed, 3 in the dead-letter store/);
  assert.match(output, /slow-export: attempts-exhausted after 2 attempt\(s\) — JOB_TIMEOUT/);
  assert.match(output, /poison-message: unrecoverable after 1 attempt\(s\)/);
  assert.match(output, /flaky-webhook retry 3/);
});
