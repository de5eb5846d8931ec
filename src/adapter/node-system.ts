// Node (and Bun, which has node:*): what the ready-made jobs need from the runtime. Programs
// start with child_process.spawn and no shell; names resolve with dns.lookup, the same
// getaddrinfo (hosts file included) that fetch then uses.
import { spawn } from "node:child_process";
import { lookup } from "node:dns/promises";
import process from "node:process";
import { Readable } from "node:stream";
import type { Resolver } from "../jobs/address-guard.ts";
import type { ExitStatus, ProcessSpawner, SpawnedProcess } from "../jobs/spawner.ts";

export function nodeSpawner(): ProcessSpawner {
  return {
    runtime: "node",
    env: (name) => process.env[name],
    spawn(request): SpawnedProcess {
      const child = spawn(request.program, [...request.args], {
        cwd: request.cwd,
        env: { ...request.env },
        stdio: ["ignore", "pipe", "pipe"],
        shell: false,
        windowsHide: true,
      });
      const exited = new Promise<ExitStatus>((resolve, reject) => {
        child.once("error", reject); // ENOENT, EACCES: it never started
        child.once("exit", (code, signal) => resolve({ code, signal }));
      });
      return {
        stdout: Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>,
        stderr: Readable.toWeb(child.stderr!) as ReadableStream<Uint8Array>,
        exited,
        kill: (signal) => void child.kill(signal),
      };
    },
  };
}

export function nodeResolver(): Resolver {
  return async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);
}
