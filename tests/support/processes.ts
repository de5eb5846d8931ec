// Child processes for tests, started on the runtime that runs the tests.
import { type ChildProcess, spawn } from "node:child_process";
import { scriptCommand } from "./runtime.ts";

export interface Child {
  readonly process: ChildProcess;
  output(): string;
  /** Resolves when the child prints `line` (or rejects if it exits first). */
  waitFor(line: string, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startScript(script: string, env: Record<string, string>): Child {
  const [command, args] = scriptCommand(script);
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => output += chunk);
  child.stderr!.on("data", (chunk) => output += chunk);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    process: child,
    output: () => output,
    async waitFor(line, timeoutMs = 30_000) {
      const started = Date.now();
      while (!output.split("\n").includes(line)) {
        if (child.exitCode !== null) throw new Error(`${script} exited (${child.exitCode}) before printing "${line}":\n${output}`);
        if (Date.now() - started > timeoutMs) throw new Error(`${script} did not print "${line}" in ${timeoutMs} ms:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
