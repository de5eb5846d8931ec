// Fan-out of one event to 1,000 WebSocket clients on one channel: the Pusher server in a Durable
// Object (workerd through miniflare, tests/fixtures/cloudflare-broadcast-worker.ts) against the
// Node broadcast server (bench/broadcast-server.ts, one process).
//
//   npx tsx bench/broadcast-do.ts        (CLIENTS=1000 ROUNDS=20 HIBERNATED=1 by default)
//
// Each round triggers one event through the signed Pusher HTTP API (the `pusher` SDK) and times
// trigger → the last of the clients holding it, and trigger → the first. The clients are raw
// `ws` sockets speaking the Pusher protocol, all in this process. In the Durable Object's
// "hibernated" rounds the trigger comes after workerd evicted the object (~10 s of quiet,
// checked by a second construction), so the time includes waking it and rebuilding the
// channel index from 1,000 socket attachments.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import PusherServer from "pusher";
import WebSocket from "ws";
import { freePort } from "../tests/support/redis-server.ts";

const CLIENTS = Number(process.env.CLIENTS ?? 1_000);
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const HIBERNATED = Number(process.env.HIBERNATED ?? 1);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

interface Target {
  port: number;
  key: string;
  sdk: PusherServer;
  stop(): Promise<void>;
}

async function nodeServer(): Promise<Target> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./broadcast-server.ts", import.meta.url))], {
    env: { ...process.env, SYSTEM: "conveyor", PORT: String(port) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => String(chunk).includes("listening") && resolve());
    child.once("exit", (code) => reject(new Error(`node server exited ${code}`)));
  });
  const sdk = new PusherServer({ appId: "1", key: "bench", secret: "bench-secret-0123456789", host: "127.0.0.1", port: String(port), useTLS: false });
  return { port, key: "bench", sdk, stop: async () => void child.kill() };
}

async function durableObject(): Promise<Target & { constructed(): Promise<number> }> {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("../tests/fixtures/cloudflare-broadcast-worker.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    write: false,
    logLevel: "silent",
  });
  const mf = new Miniflare({ modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: "2025-09-01", durableObjects: { BROADCAST: "Broadcasts" } });
  const url = await mf.ready;
  const port = Number(url.port);
  const sdk = new PusherServer({ appId: "4242", key: "test-key", secret: "test-app-secret-0123456789", host: "127.0.0.1", port: String(port), useTLS: false });
  return {
    port,
    key: "test-key",
    sdk,
    stop: () => mf.dispose(),
    constructed: async () => Number(await (await fetch(`${url.origin}/test/constructed`)).text()),
  };
}

/** `CLIENTS` raw Pusher clients on channel "bench"; `onTick(round)` per delivery. */
async function connect(target: Target, onTick: (round: number) => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let start = 0; start < CLIENTS; start += 50) {
    await Promise.all(Array.from({ length: Math.min(50, CLIENTS - start) }, () =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${target.port}/app/${target.key}?protocol=7`);
        ws.on("message", (raw) => {
          const frame = JSON.parse(String(raw)) as { event: string; data: string };
          if (frame.event === "tick") onTick((JSON.parse(frame.data) as { round: number }).round);
          else if (frame.event === "pusher:connection_established") ws.send(JSON.stringify({ event: "pusher:subscribe", data: { channel: "bench" } }));
          else if (frame.event === "pusher_internal:subscription_succeeded") resolve();
        });
        ws.on("error", reject);
        sockets.push(ws);
      })
    ));
  }
  return sockets;
}

/** One event to everyone: [ms to the first delivery, ms to the last], or null when some never came. */
async function round(target: Target, state: { round: number; count: number; first: number; last: number }): Promise<[number, number] | null> {
  state.round++;
  state.count = 0;
  const started = now();
  await target.sdk.trigger("bench", "tick", { round: state.round });
  for (let i = 0; i < 1_000 && state.count < CLIENTS; i++) await sleep(2);
  return state.count < CLIENTS ? null : [state.first - started, state.last - started];
}

async function measure(name: string, target: Target, hibernate?: () => Promise<number>) {
  const state = { round: 0, count: 0, first: 0, last: 0 };
  const sockets = await connect(target, (r) => {
    if (r !== state.round) return;
    const at = now();
    if (state.count++ === 0) state.first = at;
    state.last = at;
  });
  await sleep(500);
  const warm: [number, number][] = [];
  let lost = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const r = await round(target, state);
    if (r) warm.push(r);
    else lost++;
    await sleep(50);
  }
  const rows = [row(`${name}, awake`, warm, lost)];
  if (hibernate) {
    const cold: [number, number][] = [];
    let coldLost = 0;
    for (let i = 0; i < HIBERNATED; i++) {
      const before = await hibernate();
      // Quiet until workerd evicts the object; a publish then wakes a fresh instance.
      for (let tries = 0; tries < 6; tries++) {
        await sleep(11_000);
        const r = await round(target, state);
        if ((await hibernate()) === before) continue; // it was still awake: a warm round, not counted
        if (r) cold.push(r);
        else coldLost++;
        break;
      }
    }
    rows.push(row(`${name}, after hibernation`, cold, coldLost));
  }
  for (const ws of sockets) ws.close();
  await sleep(300);
  return rows;
}

function row(label: string, samples: [number, number][], lost: number): string {
  const firsts = samples.map((s) => s[0]).sort((a, b) => a - b);
  const lasts = samples.map((s) => s[1]).sort((a, b) => a - b);
  const f = (n: number | undefined) => n === undefined ? "–" : n.toFixed(1);
  return `| ${label} | ${samples.length} | ${f(percentile(firsts, 0.5))} | ${f(percentile(lasts, 0.5))} | ${f(lasts.length > 1 ? percentile(lasts, 0.99) : lasts[0])} | ${lost} |`;
}

const rows: string[] = [];
const node = await nodeServer();
try {
  rows.push(...await measure("Node broadcast server (one process)", node));
} finally {
  await node.stop();
}
console.error("done: node");
const object = await durableObject();
try {
  rows.push(...await measure("Durable Object (miniflare)", object, object.constructed));
} finally {
  await object.stop();
}
console.log(`\nOne event to ${CLIENTS.toLocaleString("en")} clients on one channel, triggered through the signed HTTP API; Node ${process.version}, miniflare's workerd, clients in one Node process\n`);
console.log("| server | rounds | first received p50 ms | all received p50 ms | all received p99 (max) ms | rounds not fully delivered |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) console.log(r);
process.exit(0);
