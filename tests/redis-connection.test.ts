// The three ways to hand RedisStore its connection.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import IORedis from "ioredis";
import { createStorage } from "unstorage";
import redisDriver from "unstorage/drivers/redis";
import { createConveyor, RedisStore } from "../mod.ts";
import { work } from "./fixtures/work-job.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

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
