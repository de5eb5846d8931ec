// Server time of a dashboard queue page with 100,000 jobs waiting: the page at the start, the
// middle and the end of the list, in process through app.request() (HTML rendered, redaction,
// scopes and the in-process API calls included; no network), on the memory store and on a
// local redis-server.
//
//   npm run bench:dashboard        (JOBS=100000, REPEAT=20, STORES=memory,redis by default)
//
// Each figure is the median and the worst of REPEAT requests after two warm-up requests.
import { Hono } from "hono";
import { SignJWT } from "jose";
import * as v from "valibot";
import { type Conveyor, createConveyor, defineJob, type QueueStore } from "../mod.ts";
import { createApp } from "../http.ts";
import { RedisStore } from "../redis.ts";
import { startRedis } from "../tests/support/redis-server.ts";

const JOBS = Number(process.env.JOBS ?? 100_000);
const REPEAT = Number(process.env.REPEAT ?? 20);
const STORES = (process.env.STORES ?? "memory,redis").split(",");
const SECRET = "bench-secret-that-is-long-enough-for-hs256!";
const PAGE_SIZE = 50;
const email = defineJob("email", v.object({ to: v.string(), subject: v.string() }));

async function fill(conveyor: Conveyor): Promise<void> {
  const queue = conveyor.queue("emails").register(email);
  for (let i = 0; i < JOBS; i += 1_000) {
    const n = Math.min(1_000, JOBS - i);
    await queue.addBulk(Array.from({ length: n }, (_, k) => ({ job: email, payload: { to: `user${i + k}@example.com`, subject: "Welcome" } })));
  }
}

async function measure(store: QueueStore | undefined): Promise<{ page: string; medianMs: number; maxMs: number; bytes: number }[]> {
  const conveyor = createConveyor(store ? { store } : {});
  await fill(conveyor);
  const app = createApp(conveyor, { auth: { secret: SECRET }, dashboard: true });
  const host = new Hono().route("/ops", app);
  const jwt = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("bench").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
  const headers = { cookie: `conveyor_session=${jwt}` };
  const last = Math.ceil(JOBS / PAGE_SIZE);
  const rows = [];
  for (const [label, pageNo] of [["first", 1], ["middle", Math.ceil(last / 2)], ["last", last]] as const) {
    const url = `/ops/dashboard/queues/emails?state=waiting&page=${pageNo}`;
    let bytes = 0;
    const times: number[] = [];
    for (let i = 0; i < REPEAT + 2; i++) {
      const started = performance.now();
      const res = await host.request(url, { headers });
      const text = await res.text();
      const took = performance.now() - started;
      if (res.status !== 200 || !text.includes(`Page ${pageNo} of ${last}`)) throw new Error(`${url}: ${res.status} ${text.slice(0, 200)}`);
      bytes = text.length;
      if (i >= 2) times.push(took);
    }
    times.sort((a, b) => a - b);
    rows.push({ page: `${label} (page ${pageNo})`, medianMs: round(times[Math.floor(times.length / 2)]!), maxMs: round(times.at(-1)!), bytes });
  }
  await conveyor.close({ timeoutMs: 0 });
  return rows;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

for (const name of STORES) {
  if (name === "memory") {
    console.log(`\nmemory store, ${JOBS.toLocaleString("en")} waiting jobs, ${PAGE_SIZE} a page`);
    console.table(await measure(undefined));
  } else if (name === "redis") {
    const redis = await startRedis();
    try {
      console.log(`\nRedisStore (local redis-server), ${JOBS.toLocaleString("en")} waiting jobs, ${PAGE_SIZE} a page`);
      console.table(await measure(new RedisStore({ connection: redis.url })));
    } finally {
      await redis.stop();
    }
  }
}
