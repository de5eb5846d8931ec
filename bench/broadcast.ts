// Fan-out to 1,000 WebSocket clients on one channel: Conveyor's broadcaster (Pusher protocol)
// and Socket.IO 4 (one room), on one node and on two nodes sharing a redis-server (Conveyor's
// RedisBroadcastBackend; Socket.IO's @socket.io/redis-adapter), side by side in one run.
//
//   npm run bench:broadcast        (CLIENTS=1000 by default)
//
// Servers run in child processes; the clients all live in this process (raw `ws` speaking the
// Pusher protocol for Conveyor, socket.io-client over WebSocket for Socket.IO), half on each
// node in the two-node runs, publishing on the first node. Two figures per setup:
//   latency   50 messages 20 ms apart: send → receive, p50/p99 over every delivery
//   fan-out   500 messages back to back: deliveries per second, first send → last delivery
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { io as socketIoClient } from "socket.io-client";
import WebSocket from "ws";
import { freePort, startRedis } from "../tests/support/redis-server.ts";

const CLIENTS = Number(process.env.CLIENTS ?? 1_000);
const LATENCY_MESSAGES = 50;
const BURST_MESSAGES = Number(process.env.BURST ?? 500);
const server = fileURLToPath(new URL("./broadcast-server.ts", import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type System = "conveyor" | "socketio";

async function startNode(system: System, redisUrl: string | undefined) {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", server], {
    env: { ...process.env, SYSTEM: system, PORT: String(port), ...(redisUrl ? { REDIS_URL: redisUrl } : {}) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => String(chunk).includes("listening") && resolve());
    child.once("exit", (code) => reject(new Error(`${system} server exited ${code}`)));
  });
  return { port, stop: () => child.kill() };
}

interface Client {
  close(): void;
}

/** Connects `count` clients to `port`; each calls onTick(sentAt) per message. Resolves once all are subscribed. */
async function connect(system: System, port: number, count: number, onTick: (sentAt: number) => void): Promise<Client[]> {
  const clients: Client[] = [];
  const batch = 50;
  for (let start = 0; start < count; start += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - start) }, () =>
      new Promise<void>((resolve, reject) => {
        if (system === "socketio") {
          const socket = socketIoClient(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true, reconnection: false });
          socket.on("tick", (message: { t: number }) => onTick(message.t));
          // The server joins the room on connection; one round trip later the client is in it.
          socket.on("connect", () => setTimeout(resolve, 20));
          socket.on("connect_error", reject);
          clients.push({ close: () => socket.close() });
        } else {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/app/bench?protocol=7`);
          ws.on("message", (raw) => {
            const frame = JSON.parse(String(raw)) as { event: string; data: string };
            if (frame.event === "tick") onTick((JSON.parse(frame.data) as { t: number }).t);
            else if (frame.event === "pusher:connection_established") ws.send(JSON.stringify({ event: "pusher:subscribe", data: { channel: "bench" } }));
            else if (frame.event === "pusher_internal:subscription_succeeded") resolve();
          });
          ws.on("error", reject);
          clients.push({ close: () => ws.close() });
        }
      })
    ));
  }
  return clients;
}

async function publish(port: number, count: number, intervalMs: number) {
  await fetch(`http://127.0.0.1:${port}/bench/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ count, intervalMs }) });
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function run(system: System, nodes: 1 | 2, redisUrl: string | undefined) {
  const servers = [];
  for (let i = 0; i < nodes; i++) servers.push(await startNode(system, nodes === 2 ? redisUrl : undefined));
  let latencies: number[] = [];
  let delivered = 0;
  let lastAt = 0;
  const onTick = (sentAt: number) => {
    const at = now();
    latencies.push(at - sentAt);
    delivered++;
    lastAt = at;
  };
  const clients: Client[] = [];
  for (let i = 0; i < nodes; i++) clients.push(...await connect(system, servers[i]!.port, CLIENTS / nodes, onTick));
  await sleep(500);

  await publish(servers[0]!.port, LATENCY_MESSAGES, 20);
  const expected = LATENCY_MESSAGES * CLIENTS;
  for (let i = 0; i < 500 && delivered < expected; i++) await sleep(20);
  const latencyDelivered = delivered;
  latencies.sort((a, b) => a - b);
  const p50 = percentile(latencies, 0.5);
  const p99 = percentile(latencies, 0.99);

  latencies = [];
  delivered = 0;
  const started = now();
  await publish(servers[0]!.port, BURST_MESSAGES, 0);
  const burstExpected = BURST_MESSAGES * CLIENTS;
  for (let i = 0; i < 3_000 && delivered < burstExpected; i++) await sleep(10);
  const perSecond = delivered / ((lastAt - started) / 1000);
  const lost = burstExpected - delivered + (expected - latencyDelivered);

  for (const c of clients) c.close();
  for (const s of servers) s.stop();
  await sleep(300);
  return { p50, p99, perSecond, lost };
}

const redis = await startRedis();
const rows: string[] = [];
try {
  for (const nodes of [1, 2] as const) {
    for (const system of ["conveyor", "socketio"] as const) {
      const r = await run(system, nodes, redis.url);
      const label = `${system === "conveyor" ? "Conveyor (Pusher protocol)" : "Socket.IO 4"}, ${nodes === 1 ? "one node" : "two nodes + Redis"}`;
      rows.push(`| ${label} | ${Math.round(r.perSecond).toLocaleString("en")} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.lost} |`);
      console.error(`done: ${label}`);
    }
  }
} finally {
  await redis.stop();
}
console.log(`\n${CLIENTS.toLocaleString("en")} clients on one channel, Node ${process.version}; latency: ${LATENCY_MESSAGES} messages 20 ms apart; fan-out: ${BURST_MESSAGES} back to back\n`);
console.log("| setup | fan-out deliveries/s | latency p50 ms | latency p99 ms | not delivered |");
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
process.exit(0);
