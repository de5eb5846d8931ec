// The command job on the runtime running the tests (its own spawner: child_process, Bun.spawn or
// Deno.Command): shell syntax in arguments arrives literally, programs, variables and working
// directories outside the allow-lists are refused, a non-zero exit fails the attempt, a child
// that ignores SIGTERM is killed after the grace, output is capped and redacted; Workers refuse
// at definition. Real processes and real time (short limits, generous waits).
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, describe, test } from "node:test";
import { createConveyor, type Job, type JobContext } from "../mod.ts";
import { commandJob, type CommandJobOptions, type CommandResult } from "../jobs.ts";
import { cloudflareSpawner } from "../src/adapter/cloudflare-system.ts";
import type { ProcessSpawner } from "../src/jobs/spawner.ts";
import { runtime } from "./support/runtime.ts";
import { waitUntil } from "./support/harness.ts";

async function currentSpawner(): Promise<ProcessSpawner> {
  if (runtime === "deno") return (await import("../src/adapter/deno-system.ts")).denoSpawner();
  if (runtime === "bun") return (await import("../src/adapter/bun-system.ts")).bunSpawner();
  return (await import("../src/adapter/node-system.ts")).nodeSpawner();
}

const spawner = await currentSpawner();
const conveyor = createConveyor();
after(() => conveyor.close({ timeoutMs: 5_000 }));
let queues = 0;

/** A command job on a queue of its own, a worker for it, and a way to wait for a job's end. */
function setup(options: Omit<CommandJobOptions, "spawner">) {
  const queue = conveyor.queue(`commands-${++queues}`);
  const job = commandJob({ spawner, ...options });
  job.register(conveyor.worker(queue));
  const ended = async (id: string): Promise<Job> => {
    let found: Job | null = null;
    await waitUntil(async () => ["completed", "failed", "dead"].includes((found = await queue.get(id))!.state), 30_000, `job ${id} to end`);
    return found!;
  };
  return { queue, job, ended };
}

const INJECTIONS = ["; rm -rf /", "$(id)", "`id`", "../../etc/passwd", "a b  c", "'single' \"double\"", "|| true && false", "$HOME", "*", "\\n", "-n"];

describe(`command job on ${runtime}`, () => {
  test("arguments reach the program literally: no shell expands, splits or runs them", async () => {
    const { queue, job } = setup({ programs: ["printf"] });
    const added = await queue.add(job.definition, { program: "printf", args: ["[%s]\n", ...INJECTIONS] });
    const result = await queue.finished(added) as CommandResult;
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, INJECTIONS.map((arg) => `[${arg}]\n`).join(""));
  });

  test("programs off the allow-list are refused by add, by exact name (no path games)", async () => {
    const { queue, job } = setup({ programs: ["printf"] });
    for (const program of ["sh", "/usr/bin/printf", "../printf", "printf ", "printf;id", "rm"]) {
      await assert.rejects(queue.add(job.definition, { program, args: [] }), { code: "VALIDATION_FAILED" }, program);
    }
  });

  test("the handler checks the list again (a payload stored under an older, wider list), unrecoverably", async () => {
    const narrowed = commandJob({ spawner, programs: ["printf"] });
    const context = { signal: new AbortController().signal, id: "1", queue: "q", log: async () => {} } as unknown as JobContext;
    await assert.rejects(
      Promise.resolve(narrowed.handler({ program: "sh", args: ["-c", "echo ran"] } as never, context)),
      (error: Error & { code?: string }) => error.name === "UnrecoverableError" && error.code === "COMMAND_REFUSED",
    );
  });

  test("the environment holds only inherited and allow-listed variables", async () => {
    process.env.CONVEYOR_TEST_PARENT_SECRET = "parent-only";
    const { queue, job } = setup({ programs: ["env"], inheritEnv: ["PATH"], env: ["GREETING"] });
    const result = await queue.finished(await queue.add(job.definition, { program: "env", env: { GREETING: "$(id) hello" } })) as CommandResult;
    const names = result.stdout.trim().split("\n").map((line) => line.split("=")[0]).sort();
    assert.deepEqual(names, ["GREETING", "PATH"]);
    assert.match(result.stdout, /^GREETING=\$\(id\) hello$/m);
    await assert.rejects(queue.add(job.definition, { program: "env", env: { LD_PRELOAD: "/tmp/x.so" } }), { code: "VALIDATION_FAILED" });
    const closed = setup({ programs: ["env"] });
    await assert.rejects(closed.queue.add(closed.job.definition, { program: "env", env: { "": "x" } } as never), { code: "VALIDATION_FAILED" }, "no list: no variable at all");
    await assert.rejects(closed.queue.add(closed.job.definition, { program: "env", cwd: "" } as never), { code: "VALIDATION_FAILED" }, "no list: no cwd at all");
  });

  test("the working directory: the definition's, or one from the cwds list", async () => {
    const a = realpathSync(mkdtempSync(join(tmpdir(), "conveyor-cwd-a-")));
    const b = realpathSync(mkdtempSync(join(tmpdir(), "conveyor-cwd-b-")));
    try {
      const { queue, job } = setup({ programs: ["pwd"], cwd: a, cwds: [b] });
      assert.equal((await queue.finished(await queue.add(job.definition, { program: "pwd" })) as CommandResult).stdout.trim(), a);
      assert.equal((await queue.finished(await queue.add(job.definition, { program: "pwd", cwd: b })) as CommandResult).stdout.trim(), b);
      await assert.rejects(queue.add(job.definition, { program: "pwd", cwd: "/" }), { code: "VALIDATION_FAILED" });
      await assert.rejects(queue.add(job.definition, { program: "pwd", cwd: `${b}/..` }), { code: "VALIDATION_FAILED" });
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  test("a non-zero exit fails the attempt with its code and redacted stderr, and is retried", async () => {
    const { queue, job, ended } = setup({ programs: ["sh"], job: { attempts: 2 } });
    const added = await queue.add(job.definition, { program: "sh", args: ["-c", "echo 'failed: password=hunter2hunter2' >&2; exit 3"] });
    const dead = await ended(added.id);
    assert.equal(dead.state, "dead");
    assert.equal(dead.attemptsMade, 2);
    assert.equal(dead.lastError?.code, "COMMAND_FAILED");
    assert.match(dead.lastError!.message, /exited with code 3: failed: password=\[REDACTED\]/);
  });

  test("past its time a child gets SIGTERM; one that ignores SIGTERM gets SIGKILL after the grace", async () => {
    const { queue, job, ended } = setup({ programs: ["sleep", "sh"], timeoutMs: 300, killGraceMs: 300 });
    const polite = await ended((await queue.add(job.definition, { program: "sleep", args: ["30"] })).id);
    assert.equal(polite.lastError?.code, "COMMAND_TIMEOUT");
    assert.match(polite.lastError!.message, /SIGTERM/);
    const stubborn = await ended((await queue.add(job.definition, { program: "sh", args: ["-c", "trap '' TERM; while :; do sleep 0.05; done"] })).id);
    assert.equal(stubborn.lastError?.code, "COMMAND_TIMEOUT");
    assert.match(stubborn.lastError!.message, /SIGKILL/);
  });

  test("cancelling a running job stops its child", async () => {
    const { queue, job } = setup({ programs: ["sleep"], killGraceMs: 300 });
    const added = await queue.add(job.definition, { program: "sleep", args: ["30"] });
    await waitUntil(async () => (await queue.get(added.id))!.state === "active", 30_000, "the job to start");
    const started = Date.now();
    await queue.cancel(added.id);
    await assert.rejects(queue.finished(added), { code: "JOB_CANCELLED" });
    await waitUntil(() => [...conveyor.workers].every((w) => w.activeCount === 0), 30_000, "the handler to end");
    assert.ok(Date.now() - started < 25_000, "the sleep did not run its 30 s");
  });

  test("output is capped per stream and redacted", async () => {
    const { queue, job } = setup({ programs: ["sh"], maxOutputBytes: 1_000 });
    const script = "echo 'token: sk_live_0123456789abcdefABCDEF0123'; i=0; while [ $i -lt 2000 ]; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done";
    const result = await queue.finished(await queue.add(job.definition, { program: "sh", args: ["-c", script] })) as CommandResult;
    assert.ok(result.stdout.length <= 1_000, `kept ${result.stdout.length}`);
    assert.equal(result.stdoutTruncated, true);
    assert.equal(result.stderrTruncated, false);
    assert.match(result.stdout, /^token: \[REDACTED\]\n/);
  });

  test("an allow-listed program that does not exist fails at once", async () => {
    const { queue, job, ended } = setup({ programs: ["conveyor-no-such-program"], job: { attempts: 3 } });
    const dead = await ended((await queue.add(job.definition, { program: "conveyor-no-such-program" })).id);
    assert.equal(dead.attemptsMade, 1);
    assert.equal(dead.lastError?.code, "COMMAND_FAILED");
    assert.match(dead.lastError!.message, /not found/);
  });
});

test("on Cloudflare Workers the command job is refused at definition", () => {
  assert.throws(() => commandJob({ spawner: cloudflareSpawner(), programs: ["printf"] }), { name: "ConveyorError", code: "UNSUPPORTED_RUNTIME" });
  assert.throws(() => commandJob({ spawner, programs: [] }), TypeError);
});
