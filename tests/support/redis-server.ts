// Starts a real redis-server on a free loopback port for a test file, and stops it.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import process from "node:process";
import { join } from "node:path";

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops the server (SIGTERM, waiting for exit); `kill` sends SIGKILL instead. */
  stop(options?: { kill?: boolean; keepDir?: boolean }): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and nothing is answered until `resume`. */
  pause(): void;
  resume(): void;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("error", () => resolve(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
  });
}

const missing = () =>
  new Error("redis-server is not installed; tests that need Redis cannot run (apt-get install -y redis-server; .ci/run does this)");

/** Starts redis-server; `appendonly` turns on the AOF so data survives a restart on the same `dir` and `port`. */
export async function startRedis(options: { port?: number; dir?: string; appendonly?: boolean } = {}): Promise<RedisServer> {
  if (spawnSync("redis-server", ["--version"]).error) throw missing();
  const port = options.port ?? await freePort();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "conveyor-redis-"));
  const child: ChildProcess = spawn("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir,
    "--appendonly", options.appendonly ? "yes" : "no", "--appendfsync", "always",
  ], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, name);
  };
  const started = Date.now();
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() - started > 10_000) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    // By pid: Deno's child.kill() sends one signal in a child's life and ignores later calls.
    pause: () => signal("SIGSTOP"),
    resume: () => signal("SIGCONT"),
    async stop({ kill = false, keepDir = false } = {}) {
      if (child.exitCode === null) {
        signal("SIGCONT"); // a paused server would not act on SIGTERM
        signal(kill ? "SIGKILL" : "SIGTERM");
      }
      await exited;
      if (!keepDir && !options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
