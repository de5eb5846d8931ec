// The Redis store on a real Redis Cluster of three masters (ioredis Cluster): the shared
// conformance suite with every queue in one slot (`slotTag`, so workflows may span queues), and
// without it, queues spread over the masters and a workflow across slots refused before it stores.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import IORedis from "ioredis";
import * as v from "valibot";
import { storeConformance } from "../testing/mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { createConveyor, defineJob, type QueueStore } from "../mod.ts";
import { type RedisCluster, startRedisCluster } from "./support/redis-cluster.ts";

/** Real time here: the workers run on the system clock against real servers. */
async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  for (const started = Date.now(); !check();) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

type ClusterClient = InstanceType<typeof IORedis.Cluster>;
let cluster: RedisCluster | undefined;
let stores = 0;
const open = new Set<RedisStore>();
const clients = new Set<ClusterClient>();
const prefixes = new WeakMap<QueueStore, string>();

function clusterClient(): ClusterClient {
  const client = new IORedis.Cluster(cluster!.nodes as { host: string; port: number }[]);
  clients.add(client);
  return client;
}

function make(prefix: string, slotTag?: string): RedisStore {
  const store = new RedisStore({ connection: clusterClient() as never, prefix, leaseClock: "caller", slotTag });
  open.add(store);
  prefixes.set(store, prefix);
  return store;
}

async function closeAll(): Promise<void> {
  await Promise.all([...open].map((store) => store.close()));
  open.clear();
  for (const client of clients) client.disconnect();
  clients.clear();
}

storeConformance({
  name: "redis-cluster (slotTag)",
  async setup() {
    cluster = await startRedisCluster();
  },
  async teardown() {
    await closeAll();
    await cluster?.stop();
  },
  create: () => make(`cl${++stores}-${crypto.randomUUID().slice(0, 8)}`, "conformance"),
  sibling: (store) => make(prefixes.get(store)!, "conformance"),
  async reopen(store) {
    await store.close();
    return make(prefixes.get(store)!, "conformance");
  },
});

describe("RedisStore on a Redis Cluster, one slot per queue", () => {
  let admin: ClusterClient;
  before(async () => {
    cluster = await startRedisCluster();
    admin = clusterClient();
  });
  after(async () => {
    await closeAll();
    await cluster?.stop();
  });

  const job = defineJob("work", v.object({ n: v.number() }));

  test("queues spread over the masters, and workers on each run their jobs", async () => {
    const conveyor = createConveyor({ store: make("spread") });
    const names = Array.from({ length: 12 }, (_, i) => `q${i}`);
    const done = new Set<string>();
    for (const name of names) {
      conveyor.worker(name, { concurrency: 4 }).handle(job, ({ n }) => void done.add(`${name}:${n}`));
      await conveyor.queue(name).addBulk(Array.from({ length: 20 }, (_, n) => ({ job, payload: { n } })));
    }
    await until(() => done.size === names.length * 20, 60_000);
    // Each queue's keys sit in its own slot: which master holds them differs across queues.
    const owners = new Set<string>();
    for (const name of names) {
      const slot = await admin.call("CLUSTER", "KEYSLOT", `spread:{${name}}:meta`) as number;
      const shards = await admin.call("CLUSTER", "SLOTS") as [number, number, [string, number]][];
      const owner = shards.find(([from, to]) => slot >= from && slot <= to)!;
      owners.add(String(owner[2][1]));
    }
    assert.equal(owners.size, 3, "12 queues land on all three masters");
    await conveyor.close();
  });

  test("events reach a subscriber whatever master its queue and its connection are on", async () => {
    const producer = createConveyor({ store: make("events") });
    const listener = createConveyor({ store: make("events") });
    const seen: string[] = [];
    for (const name of ["a", "b", "c", "d", "e", "f"]) {
      listener.queue(name).events.addEventListener("enqueued", () => void seen.push(name));
      await listener.queue(name).events.ready();
    }
    for (const name of ["a", "b", "c", "d", "e", "f"]) await producer.queue(name).add(job, { n: 1 });
    await until(() => seen.length === 6, 30_000);
    assert.deepEqual(seen.sort(), ["a", "b", "c", "d", "e", "f"]);
    await producer.close();
    await listener.close();
  });

  test("a workflow across slots is refused before anything is stored; within one queue it runs", async () => {
    const conveyor = createConveyor({ store: make("wf") });
    const users = conveyor.queue("users");
    await assert.rejects(
      users.chain(job, { n: 1 }).then(job, { n: 2 }, { queue: "mail" }).add(),
      (error: Error & { code?: string }) => error.code === "UNSAFE_SETUP" && /slotTag/.test(error.message),
    );
    await assert.rejects(
      conveyor.flow({ queue: users, job, payload: { n: 0 }, children: [{ queue: "mail", job, payload: { n: 1 } }] }),
      (error: Error & { code?: string }) => error.code === "UNSAFE_SETUP",
    );
    const counts = async (name: string) => Object.values(await conveyor.queue(name).counts()).reduce((a, b) => a + b, 0);
    assert.deepEqual([await counts("users"), await counts("mail")], [0, 0], "nothing stored");

    const ran: number[] = [];
    conveyor.worker(users).handle(job, ({ n }) => {
      ran.push(n);
      return { n: n + 1 };
    });
    await users.chain(job, { n: 1 }).then(job).then(job).add();
    await until(() => ran.length === 3, 30_000);
    assert.deepEqual(ran, [1, 2, 3], "each step got the result of the one before");
    await conveyor.close();
  });
});
