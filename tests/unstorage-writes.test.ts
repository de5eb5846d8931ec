// UnstorageStore when storage refuses writes: the heartbeat keeps its claim, a lost claim stops
// every change, and a failed write is retried without wedging later ones. Fake time throughout.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createStorage, type Driver } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { FakeClock, isConveyorError } from "../mod.ts";
import { UnstorageStore } from "../unstorage.ts";
import { newJob } from "./support/store-conformance.ts";

const HEARTBEAT_MS = 1_000;

/** unstorage's memory driver, whose writes to keys matching `keys` fail while `failures` > 0 (or `always`). */
function flakyStorage() {
  const inner = memoryDriver() as Driver;
  const control = { keys: /./, failures: 0, always: false, refused: 0 };
  const refuse = (key: string) => {
    if (!control.keys.test(key) || !(control.always || control.failures > 0)) return;
    control.failures--;
    control.refused++;
    throw new Error("EIO: disk went away");
  };
  const driver: Driver = {
    ...inner,
    name: "flaky",
    setItem(key, value, options) {
      refuse(key);
      return inner.setItem!(key, value, options);
    },
    removeItem(key, options) {
      refuse(key);
      return inner.removeItem!(key, options);
    },
  };
  return { storage: createStorage({ driver }), control };
}

async function opened(storage = flakyStorage()) {
  const clock = new FakeClock();
  const store = await UnstorageStore.open({ storage: storage.storage, clock, heartbeatMs: HEARTBEAT_MS });
  return { ...storage, clock, store };
}

/** A promise's state without waiting for it. */
function watch<T>(promise: Promise<T>) {
  const state: { settled: "no" | "resolved" | "rejected"; error?: unknown } = { settled: "no" };
  promise.then(() => state.settled = "resolved", (error) => Object.assign(state, { settled: "rejected", error }));
  return state;
}

const jobKeys = async (storage: ReturnType<typeof createStorage>) => (await storage.getKeys("conveyor")).filter((k) => k.includes(":job:"));

describe("UnstorageStore: heartbeat and ownership", () => {
  test("a failed heartbeat write is retried and the heartbeat goes on: a second process stays refused", async () => {
    const { storage, control, clock, store } = await opened();
    control.keys = /owner/;
    control.failures = 2;
    await clock.advance(HEARTBEAT_MS); // fails, retried after 250 ms, fails, retried again …
    await clock.advance(HEARTBEAT_MS);
    assert.equal(control.refused, 2);
    await clock.advance(10 * HEARTBEAT_MS);
    const owner = await storage.getItem("conveyor:owner") as { heartbeatAt: number };
    assert.ok(clock.now() - owner.heartbeatAt <= HEARTBEAT_MS, "the heartbeat is still being stored");
    await assert.rejects(
      UnstorageStore.open({ storage, clock, heartbeatMs: HEARTBEAT_MS }),
      (e) => isConveyorError(e, "UNSAFE_SETUP"),
    );
    await store.enqueue("q", { jobs: [newJob()], now: clock.now() });
    await store.close();
  });

  test("once another process's claim appears, every change is refused and nothing more is written", async () => {
    const { storage, control, clock, store } = await opened();
    control.keys = /:job:/;
    control.always = true;
    const stuck = watch(store.enqueue("q", { jobs: [newJob({ id: "stuck" })], now: clock.now() }));
    await clock.flush();
    assert.equal(stuck.settled, "no", "waiting while storage refuses the write");
    await storage.setItem("conveyor:owner", { id: "another-process", heartbeatAt: clock.now() });
    await clock.advance(HEARTBEAT_MS);
    assert.equal(stuck.settled, "rejected", "the waiting change is given up, not written over the new owner's");
    assert.ok(isConveyorError(stuck.error, "UNSAFE_SETUP"));
    control.always = false;
    for (const change of [
      () => store.enqueue("q", { jobs: [newJob({ id: "later" })], now: clock.now() }),
      () => store.setPaused("q", { paused: true, now: clock.now() }),
      () => store.putRecord("ns", "k", 1),
    ]) {
      await assert.rejects(change(), (e) => isConveyorError(e, "UNSAFE_SETUP") && /no longer owns/.test(e.message));
    }
    await clock.advance(5 * HEARTBEAT_MS);
    assert.deepEqual(await jobKeys(storage), [], "no job was written");
    assert.equal((await store.counts("q")).waiting, 1, "memory holds only the change made while the claim was held");
    await store.close();
    assert.equal((await storage.getItem("conveyor:owner") as { id: string }).id, "another-process", "close leaves the new owner's claim");
  });
});

describe("UnstorageStore: failed writes", () => {
  test("a failed write is retried until stored; the call waits for it and later calls are not wedged", async () => {
    const { storage, control, clock, store } = await opened();
    control.keys = /:job:/;
    control.failures = 2;
    const first = watch(store.enqueue("q", { jobs: [newJob({ id: "first" })], now: clock.now() }));
    const second = watch(store.enqueue("q", { jobs: [newJob({ id: "second" })], now: clock.now() }));
    await clock.flush();
    assert.deepEqual([first.settled, second.settled], ["no", "no"], "neither resolves before it is stored");
    await clock.advance(100);
    await clock.advance(200);
    assert.deepEqual([first.settled, second.settled], ["resolved", "resolved"]);
    await store.enqueue("q", { jobs: [newJob({ id: "third" })], now: clock.now() });
    assert.deepEqual((await jobKeys(storage)).sort(), ["conveyor:q:job:first", "conveyor:q:job:second", "conveyor:q:job:third"]);
    await store.close();
    const reopened = await UnstorageStore.open({ storage, clock, heartbeatMs: HEARTBEAT_MS });
    assert.equal((await reopened.counts("q")).waiting, 3, "storage and memory agree");
    await reopened.close();
  });

  test("closing while storage still refuses rejects the waiting calls: those changes are not stored", async () => {
    const { storage, control, clock, store } = await opened();
    await store.enqueue("q", { jobs: [newJob({ id: "kept" })], now: clock.now() });
    control.keys = /:job:/;
    control.always = true;
    const lost = watch(store.enqueue("q", { jobs: [newJob({ id: "lost" })], now: clock.now() }));
    await clock.advance(1_000);
    assert.equal(lost.settled, "no");
    await assert.rejects(store.close(), (e) => isConveyorError(e, "STORE_CLOSED"));
    assert.ok(isConveyorError(lost.error, "STORE_CLOSED"), "the call that made the change rejects");
    control.always = false;
    const reopened = await UnstorageStore.open({ storage, clock, heartbeatMs: HEARTBEAT_MS });
    assert.deepEqual((await reopened.list("q", "waiting", { offset: 0, limit: 10 })).map((j) => j.id), ["kept"]);
    await reopened.close();
  });

  test("data JSON cannot hold is refused before memory changes, and the store goes on", async () => {
    const { clock, store } = await opened();
    await assert.rejects(
      store.enqueue("q", { jobs: [newJob({ payload: { n: 1n } })], now: clock.now() }),
      (e) => isConveyorError(e, "VALIDATION_FAILED") && /cannot be written as JSON/.test(e.message),
    );
    assert.equal((await store.counts("q")).waiting, 0);
    await store.enqueue("q", { jobs: [newJob()], now: clock.now() });
    assert.equal((await store.counts("q")).waiting, 1);
    await store.close();
  });
});

describe("UnstorageStore: data across a reopen", () => {
  test('"__proto__" and "constructor" keys and 100-level nesting survive storage', async () => {
    const { storage, clock, store } = await opened();
    const payload = JSON.parse('{"__proto__":{"x":1},"constructor":{"prototype":{"y":2}},"deep":' + "[".repeat(99) + "]".repeat(99) + "}");
    await store.enqueue("q", { jobs: [newJob({ id: "p", payload })], now: clock.now() });
    await store.close();
    const reopened = await UnstorageStore.open({ storage, clock, heartbeatMs: HEARTBEAT_MS });
    const read = (await reopened.get("q", "p"))!.payload as Record<string, unknown>;
    assert.ok(Object.hasOwn(read, "__proto__"));
    assert.equal(Object.getPrototypeOf(read), Object.prototype);
    assert.equal(JSON.stringify(read), JSON.stringify(payload));
    await reopened.close();
  });
});
