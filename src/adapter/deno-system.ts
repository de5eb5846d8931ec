// Deno: what the ready-made jobs need from the runtime. Programs start with Deno.Command (no
// shell, environment cleared); names resolve with Deno.resolveDns, which asks DNS and not the
// hosts file, so a name only /etc/hosts maps is not checked by what it points at.
import type { Resolver } from "../jobs/address-guard.ts";
import type { ProcessSpawner, SpawnedProcess } from "../jobs/spawner.ts";

interface DenoChild {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  status: Promise<{ code: number; signal: string | null }>;
  kill(signal: string): void;
}
declare const Deno: {
  Command: new (program: string, options: {
    args: string[]; cwd?: string; env: Record<string, string>; clearEnv: boolean; stdin: "null"; stdout: "piped"; stderr: "piped";
  }) => { spawn(): DenoChild };
  env: { get(name: string): string | undefined };
  resolveDns(name: string, type: "A" | "AAAA"): Promise<string[]>;
  errors: { NotFound: new () => Error };
};

export function denoSpawner(): ProcessSpawner {
  return {
    runtime: "deno",
    env: (name) => Deno.env.get(name),
    spawn(request): SpawnedProcess {
      let child: DenoChild;
      try {
        child = new Deno.Command(request.program, {
          args: [...request.args], cwd: request.cwd, env: { ...request.env }, clearEnv: true, stdin: "null", stdout: "piped", stderr: "piped",
        }).spawn();
      } catch (error) {
        // Deno throws at spawn where Node emits "error": give the same shape.
        if (error instanceof Deno.errors.NotFound) Object.assign(error, { code: "ENOENT" });
        const empty = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });
        return { stdout: empty(), stderr: empty(), exited: Promise.reject(error), kill: () => {} };
      }
      return {
        stdout: child.stdout,
        stderr: child.stderr,
        // Deno reports a signalled exit as 128+n with the signal's name.
        exited: child.status.then(({ code, signal }) => ({ code: signal ? null : code, signal })),
        kill: (signal) => {
          try {
            child.kill(signal);
          } catch { /* already exited */ }
        },
      };
    },
  };
}

export function denoResolver(): Resolver {
  const records = (type: "A" | "AAAA", hostname: string) => Deno.resolveDns(hostname, type).catch((error: Error) => {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  });
  return async (hostname) => [...await records("A", hostname), ...await records("AAAA", hostname)];
}
