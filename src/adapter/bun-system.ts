// Bun: what the ready-made jobs need from the runtime. Programs start with Bun.spawn (an
// argument array, no shell); names resolve with Bun.dns.lookup (getaddrinfo, as fetch does).
import type { Resolver } from "../jobs/address-guard.ts";
import type { ProcessSpawner, SpawnedProcess } from "../jobs/spawner.ts";

interface BunChild {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<number>;
  signalCode: string | null;
  kill(signal: string): void;
}
declare const Bun: {
  spawn(command: string[], options: { cwd?: string; env: Record<string, string>; stdin: "ignore"; stdout: "pipe"; stderr: "pipe" }): BunChild;
  env: Record<string, string | undefined>;
  dns: { lookup(hostname: string, options?: object): Promise<{ address: string }[]> };
};

export function bunSpawner(): ProcessSpawner {
  return {
    runtime: "bun",
    env: (name) => Bun.env[name],
    spawn(request): SpawnedProcess {
      let child: BunChild;
      try {
        child = Bun.spawn([request.program, ...request.args], { cwd: request.cwd, env: { ...request.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      } catch (error) {
        // Bun throws at spawn for a missing program where Node emits "error": give the same shape.
        const empty = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });
        return { stdout: empty(), stderr: empty(), exited: Promise.reject(error), kill: () => {} };
      }
      return {
        stdout: child.stdout,
        stderr: child.stderr,
        exited: child.exited.then((code) => ({ code: child.signalCode ? null : code, signal: child.signalCode })),
        kill: (signal) => child.kill(signal),
      };
    },
  };
}

export function bunResolver(): Resolver {
  return async (hostname) => (await Bun.dns.lookup(hostname)).map((entry) => entry.address);
}
