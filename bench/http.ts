// Enqueue requests per second through the HTTP app on Node: with JWT auth and validation on,
// the same app with auth off, and a bare Hono route calling queue.add, side by side.
//
//   npm run bench:http        (DURATION_MS=5000, CONNECTIONS=64, ROUNDS=3 by default)
//
// Each variant serves from its own child process (@hono/node-server, memory store); this
// process drives it with CONNECTIONS concurrent keep-alive requests (node:http: Node 20's fetch
// tops out near 1,000 requests/s on this machine, below what the servers can answer). Rounds alternate the
// variants and the median round is reported.
import { spawn } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";

const DURATION_MS = Number(process.env.DURATION_MS ?? 5_000);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** VARIANTS=full,audited runs just those. */
const VARIANTS = (["full", "audited", "open", "bare"] as const).filter((v) => !process.env.VARIANTS || process.env.VARIANTS.split(",").includes(v));
const SECRET = "bench-secret-that-is-long-enough-for-hs256!";
const server = fileURLToPath(new URL("./http-server.ts", import.meta.url));

async function start(variant: string): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ["--import", "tsx", server], { env: { ...process.env, VARIANT: variant }, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(String(chunk));
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`server ${variant} exited with ${code}`)));
  });
  return { port, stop: () => child.kill() };
}

async function load(port: number, token: string | null): Promise<{ perSecond: number; p50: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = JSON.stringify({ name: "email", payload: { to: "ada@example.com", subject: "Welcome" } });
  const post = () =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/queues/emails/jobs", method: "POST", agent, headers }, (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
      });
      req.once("error", reject);
      req.end(body);
    });
  const latencies: number[] = [];
  // Warm up: JIT, connection pool.
  for (let i = 0; i < 500; i++) await post();
  const end = performance.now() + DURATION_MS;
  let done = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const status = await post();
      if (status !== 201) throw new Error(`status ${status}`);
      latencies.push(performance.now() - t);
      done++;
    }
  }));
  const elapsed = performance.now() - started;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { perSecond: (done / elapsed) * 1000, p50: at(0.5), p99: at(0.99) };
}

const token = await new SignJWT({ scope: "jobs:write" }).setProtectedHeader({ alg: "HS256" }).setSubject("bench")
  .setAudience("conveyor").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
const results: Record<string, { perSecond: number; p50: number; p99: number }[]> = { full: [], audited: [], open: [], bare: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of VARIANTS) {
    const { port, stop } = await start(variant);
    try {
      results[variant]!.push(await load(port, variant === "full" || variant === "audited" ? token : null));
    } finally {
      stop();
    }
  }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const label = { full: "app, JWT auth + validation", audited: "app, JWT auth + validation + audit log", open: "app, auth off (validation on)", bare: "bare Hono route, neither" };
console.log(`\nPOST /queues/emails/jobs on Node ${process.version}, ${CONNECTIONS} connections, ${DURATION_MS} ms × ${ROUNDS} rounds (median)\n`);
console.log("| variant | requests/s | p50 ms | p99 ms | vs bare |");
console.log("| --- | --- | --- | --- | --- |");
const bare = results.bare!.length ? median(results.bare!.map((r) => r.perSecond)) : NaN;
for (const variant of VARIANTS) {
  const rs = results[variant]!;
  const perSecond = median(rs.map((r) => r.perSecond));
  console.log(`| ${label[variant]} | ${Math.round(perSecond).toLocaleString("en")} | ${median(rs.map((r) => r.p50)).toFixed(2)} | ${median(rs.map((r) => r.p99)).toFixed(2)} | ${(perSecond / bare).toFixed(2)} |`);
}
