// Starts a real Redis Cluster of three masters (no replicas) on free loopback ports for a test
// file, and stops it. Needs redis-server and redis-cli (the redis-server package has both).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freePort } from "./redis-server.ts";

export interface RedisCluster {
  /** Where a cluster client starts: every master's host and port. */
  readonly nodes: readonly { host: string; port: number }[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cli(port: number, ...args: string[]): string {
  const result = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8" });
  if (result.error) throw new Error("redis-cli is not installed; Redis Cluster tests cannot run (apt-get install -y redis-server)");
  return result.stdout;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error("redis-server is not installed; Redis Cluster tests cannot run (apt-get install -y redis-server; .ci/run does this)");
  }
  const dir = mkdtempSync(join(tmpdir(), "conveyor-redis-cluster-"));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    ports.push(port);
    children.push(spawn("redis-server", [
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
      "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "5000",
    ], { stdio: "ignore" }));
  }
  const exits = children.map((child) => new Promise<void>((resolve) => child.once("exit", () => resolve())));
  const stop = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGTERM");
    await Promise.all(exits);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      for (let tries = 0; !cli(port, "PING").startsWith("PONG"); tries++) {
        if (tries > 500) throw new Error(`redis-server (cluster node) did not start on port ${port}`);
        await sleep(20);
      }
    }
    const created = spawnSync("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { encoding: "utf8" });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
    // Every node must agree before a client's first slot lookup, or it sees a partial map.
    for (let tries = 0; !ports.every((p) => cli(p, "CLUSTER", "INFO").includes("cluster_state:ok")); tries++) {
      if (tries > 500) throw new Error("the Redis Cluster did not reach cluster_state:ok");
      await sleep(20);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => ({ host: "127.0.0.1", port })), stop };
}
