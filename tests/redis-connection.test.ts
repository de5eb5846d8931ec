// The three ways to hand RedisStore its connection, and what callers see when Redis is out of reach.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import IORedis from "ioredis";
import { createStorage } from "unstorage";
import redisDriver from "unstorage/drivers/redis";
import { createConveyor, isConveyorError } from "../mod.ts";
import { RedisStore } from "../redis.ts";
import { work } from "./fixtures/work-job.ts";
import { waitUntil } from "./support/harness.ts";
import { freePort, type RedisServer, startRedis } from "./support/redis-server.ts";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

async function roundTrip(store: RedisStore): Promise<void> {
  const conveyor = createConveyor({ store });
  const queue = conveyor.queue("conn");
  const job = await queue.add(work, { n: 7 });
  assert.deepEqual((await queue.get(job.id))?.payload, { n: 7 });
  await conveyor.close();
}

test("a redis:// URL: the store owns and closes its connection", async () => {
  await roundTrip(new RedisStore({ connection: redis.url, prefix: "url" }));
});

test("an ioredis client: used as is and left open for its owner", async () => {
  const client = new IORedis(redis.url);
  await roundTrip(new RedisStore({ connection: client, prefix: "client" }));
  assert.equal(await client.ping(), "PONG");
  client.disconnect();
});

test("an unstorage storage on the redis driver: its client is reused", async () => {
  const storage = createStorage({ driver: redisDriver({ url: redis.url }) });
  await roundTrip(new RedisStore({ connection: storage, prefix: "unstorage" }));
  await storage.setItem("still", "works");
  assert.equal(await storage.getItem("still"), "works");
  await storage.dispose();
});

test("anything else is refused with a clear error", () => {
  assert.throws(() => new RedisStore({} as never), /connection/);
  const store = new RedisStore({ connection: createStorage() as never });
  return assert.rejects(store.counts("q"), /not mounted on the redis driver/);
});

/** Settles `promise` or says it is still pending after `ms`: a hang fails the test instead of stalling it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; pending?: true }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<{ pending: true }>((resolve) => timer = setTimeout(() => resolve({ pending: true }), ms));
  const settled = promise.then((value) => ({ value }), (error) => ({ error }));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

const unavailable = (outcome: { error?: unknown; pending?: true }, what: string) => {
  assert.ok(!outcome.pending, `${what}: still pending`);
  assert.ok(isConveyorError(outcome.error, "STORE_UNAVAILABLE"), `${what}: rejected with STORE_UNAVAILABLE, got ${outcome.error}`);
};

test("nothing listening at the address: calls reject with STORE_UNAVAILABLE after callTimeoutMs", async () => {
  const port = await freePort();
  const store = new RedisStore({ connection: `redis://127.0.0.1:${port}`, prefix: "down", callTimeoutMs: 300 });
  const conveyor = createConveyor({ store });
  const started = Date.now();
  const [added, counts, paused] = await Promise.all([
    within(conveyor.queue("conn").add(work, { n: 1 }), 10_000),
    within(store.counts("conn"), 10_000),
    within(store.isPaused("conn"), 10_000),
  ]);
  unavailable(added, "queue.add()");
  unavailable(counts, "counts()");
  unavailable(paused, "isPaused()");
  assert.ok(Date.now() - started >= 250, "after the timeout, not before");
  const subscription = store.subscribe("conn", () => {});
  unavailable(await within(subscription.ready, 10_000), "a subscription's ready");
  subscription.close();
  await conveyor.close({ timeoutMs: 0 });
});

test("redis-server stopped, then restarted on its port: calls reject meanwhile, then work again, and so does a worker", async () => {
  const own = await startRedis();
  const store = new RedisStore({ connection: own.url, prefix: "outage", callTimeoutMs: 300 });
  const conveyor = createConveyor({ store });
  const queue = conveyor.queue("conn");
  const done: number[] = [];
  const worker = conveyor.worker(queue, { stallCheckMs: 200, errorRetryMs: 50 }).handle(work, ({ n }) => void done.push(n));
  worker.addEventListener("error", () => {}); // failed calls during the outage are expected
  await worker.ready();
  await queue.add(work, { n: 1 });
  await waitUntil(() => done.length === 1, 10_000, "the first job");
  const { port, dir } = own;
  await own.stop({ keepDir: true });
  // A call made before the client notices the server is gone counts as sent ("may still take
  // effect", and ioredis does resend it); once it has noticed, calls are refused unsent.
  const client = await store.client();
  await waitUntil(() => client.status !== "ready", 10_000, "the client to notice");
  const refused = await within(queue.add(work, { n: 2 }), 10_000);
  unavailable(refused, "queue.add() while Redis is down");
  assert.match((refused.error as Error).message, /not sent/);
  unavailable(await within(queue.counts(), 10_000), "counts() while Redis is down");
  const again = await startRedis({ port, dir });
  try {
    await waitUntil(async () => (await within(queue.counts(), 5_000)).value !== undefined, 20_000, "calls to work again");
    await queue.add(work, { n: 3 });
    await waitUntil(() => done.includes(3), 20_000, "the worker to take a job added after the restart");
    assert.deepEqual(done, [1, 3], "the job refused during the outage was never added");
  } finally {
    await conveyor.close({ timeoutMs: 0 });
    await again.stop();
  }
});

test("a paused redis-server: a call sent and not answered rejects with STORE_UNAVAILABLE; once resumed, calls work", async () => {
  const own = await startRedis();
  const store = new RedisStore({ connection: own.url, prefix: "paused", callTimeoutMs: 300 });
  try {
    assert.equal((await store.counts("conn")).waiting, 0);
    own.pause();
    const outcome = await within(store.counts("conn"), 10_000);
    unavailable(outcome, "counts() on a paused server");
    assert.match((outcome.error as Error).message, /may still take effect/);
    own.resume();
    assert.equal((await store.counts("conn")).waiting, 0);
  } finally {
    own.resume();
    await store.close();
    await own.stop();
  }
});
