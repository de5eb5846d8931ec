// One server for bench/broadcast.ts, in its own process. SYSTEM=conveyor|socketio, REDIS_URL
// optional (two nodes share it), PORT. POST /bench/publish { count, intervalMs } publishes
// `count` messages to the channel/room "bench", each carrying its send time.
import { createServer } from "node:http";
import process from "node:process";
import { createAdapter } from "@socket.io/redis-adapter";
import { Hono } from "hono";
import IORedis from "ioredis";
import { Server as SocketIoServer } from "socket.io";
import { createBroadcastApp } from "../http.ts";
import { Broadcaster, RedisBroadcastBackend } from "../broadcast.ts";
import { nodeAdapter } from "../src/adapter/node.ts";

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function publishLoop(send: (i: number) => void | Promise<void>, count: number, intervalMs: number) {
  for (let i = 0; i < count; i++) {
    await send(i);
    if (intervalMs > 0) await sleep(intervalMs);
  }
}

if (process.env.SYSTEM === "socketio") {
  const server = createServer();
  const io = new SocketIoServer(server, { transports: ["websocket"] });
  if (redisUrl) {
    const pub = new IORedis(redisUrl);
    io.adapter(createAdapter(pub, pub.duplicate()));
  }
  io.on("connection", (socket) => void socket.join("bench"));
  server.on("request", (req, res) => {
    if (req.url !== "/bench/publish") return;
    let body = "";
    req.on("data", (chunk) => body += chunk);
    req.on("end", async () => {
      const { count, intervalMs } = JSON.parse(body) as { count: number; intervalMs: number };
      await publishLoop((i) => void io.to("bench").emit("tick", { t: now(), i }), count, intervalMs);
      res.end("{}");
    });
  });
  server.listen(port, "127.0.0.1", () => console.log("listening"));
} else {
  const adapter = nodeAdapter();
  const broadcaster = new Broadcaster({
    appId: "1",
    key: "bench",
    secret: "bench-secret-0123456789",
    backend: redisUrl ? new RedisBroadcastBackend({ connection: redisUrl, prefix: "bench-bc" }) : undefined,
  });
  await broadcaster.ready();
  const app = new Hono();
  app.post("/bench/publish", async (c) => {
    const { count, intervalMs } = await c.req.json() as { count: number; intervalMs: number };
    await publishLoop((i) => broadcaster.publish("bench", "tick", { t: now(), i }), count, intervalMs);
    return c.json({});
  });
  app.route("/", createBroadcastApp(broadcaster, { auth: false, upgradeWebSocket: adapter.upgradeWebSocket }));
  console.warn = () => {};
  await adapter.serve(app, { port });
  console.log("listening");
}
