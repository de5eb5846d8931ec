// A tick claimed by a node that stops before enqueueing its job is not lost: another node (or the
// same one, after a failed enqueue) enqueues it once the claim times out. Every backend, fake time.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { type ConveyorEventData, createConveyor, defineJob, FakeClock, type QueueStore } from "../mod.ts";
import type { PendingTick } from "../src/scheduler/pending.ts";
import { backends } from "./support/backends.ts";
import { deferred, eventually } from "./support/harness.ts";

const report = defineJob("report", v.object({ kind: v.string() }));
const target = { queue: "reports", job: report, payload: { kind: "daily" } };
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const T0 = Date.UTC(2026, 0, 1);
const TIMEOUT = 5 * SECOND; // the default claimTimeoutMs

type Methods = { [K in keyof QueueStore as QueueStore[K] extends (...args: never[]) => unknown ? K : never]: QueueStore[K] };
type Overrides = { [K in keyof Methods]?: (target: QueueStore, ...args: Parameters<Methods[K]>) => ReturnType<Methods[K]> };

/** A view of `store` whose listed methods are replaced (each gets the real store first). */
function intercept(store: QueueStore, overrides: Overrides): QueueStore {
  return new Proxy(store, {
    get(target, property) {
      const override = overrides[property as keyof Overrides] as ((t: QueueStore, ...args: unknown[]) => unknown) | undefined;
      if (override) return (...args: unknown[]) => override(target, ...args);
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const pendingOf = (state: unknown): readonly PendingTick[] => (state as { pending?: PendingTick[] } | null)?.pending ?? [];
/** Whether a state write marks a tick pending that was not (a claim, or a take-over). */
const claims = (expected: unknown, value: unknown) =>
  pendingOf(value).some((mark) => !pendingOf(expected).some((old) => old.tick === mark.tick && old.claimedAt === mark.claimedAt));

/**
 * A node that dies the moment its claim of a tick is written: the swap succeeds, and from then on
 * no call it makes ever answers (no enqueue, no clearing).
 */
function dyingAfterClaim(store: QueueStore) {
  const died = deferred();
  let dead = false;
  const never = () => new Promise<never>(() => {});
  const view = new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        if (dead) return await never();
        const result = await value.apply(target, args);
        if (property === "compareAndSetRecord" && result === true && claims(args[2], args[3])) {
          dead = true;
          died.resolve();
          return await never();
        }
        return result;
      };
    },
  });
  return { store: view, died: died.promise };
}

/** Every "enqueued" announcement of the queue, by job id: a tick's job created twice shows twice. */
function countCreations(store: QueueStore, queue = "reports") {
  const created: string[] = [];
  const subscription = store.subscribe(queue, (event: ConveyorEventData) => {
    if (event.type === "enqueued") created.push(event.jobId);
  }, ["enqueued"]);
  return { created, subscription };
}

for (const backend of backends) {
  describe(`Scheduler recovery of claimed ticks (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test("a node that dies right after claiming a tick: another enqueues that tick's job once the claim times out, once", async () => {
      const clock = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      const dying = dyingAfterClaim(store);
      const a = createConveyor({ store: dying.store, clock }).scheduler({ autostart: false });
      const b = createConveyor({ store, clock }).scheduler({ autostart: false });
      const { created, subscription } = countCreations(store);
      try {
        await subscription.ready;
        for (const node of [a, b]) await node.schedule("beat", "* * * * *", target, { overlap: "allow" });
        await clock.advance(MINUTE);
        const at = T0 + MINUTE;
        void a.tick(); // claims the minute's tick, then never answers again
        await dying.died;
        const claimed = await b.get("beat");
        assert.deepEqual([claimed?.runs, claimed?.lastJobId], [1, `schedule:beat:${at}`], "the tick is claimed and counted");
        assert.equal(await store.get("reports", `schedule:beat:${at}`), null, "but its job is not enqueued");

        await b.start(); // sees the claim, too fresh to take over
        await clock.advance(TIMEOUT - 1);
        await clock.flush();
        assert.equal((await store.counts("reports")).waiting, 0, "a claim younger than the timeout is left to its node");

        await clock.advance(1);
        await eventually(clock, async () => (await store.counts("reports")).waiting === 1);
        assert.ok(await store.get("reports", `schedule:beat:${at}`), "the claimed tick's own job");
        assert.deepEqual(pendingOf(await store.getRecord("schedule-state", "beat")), [], "and the mark cleared");
        assert.equal((await b.get("beat"))?.runs, 1, "counted once: the claim counted it");

        await clock.advance(MINUTE - TIMEOUT);
        await eventually(clock, async () => (await store.counts("reports")).waiting === 2);
        await clock.flush();
        assert.deepEqual(created.sort(), [`schedule:beat:${at}`, `schedule:beat:${at + MINUTE}`], "each tick's job created once");
        assert.equal((await b.get("beat"))?.runs, 2);
      } finally {
        subscription.close();
        for (const node of [a, b]) node.close();
        await store.close();
      }
    });

    test("a slow node is not raced: its claim is left alone until the timeout, and its job is created once", async () => {
      const clock = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      const held = deferred();
      const reached = deferred();
      const slow = intercept(store, {
        enqueue: async (target, queue, request) => {
          reached.resolve();
          await held.promise;
          return await target.enqueue(queue, request);
        },
      });
      const a = createConveyor({ store: slow, clock }).scheduler({ autostart: false });
      const b = createConveyor({ store, clock }).scheduler({ autostart: false });
      const { created, subscription } = countCreations(store);
      try {
        await subscription.ready;
        for (const node of [a, b]) await node.schedule("beat", "* * * * *", target, { overlap: "allow" });
        await clock.advance(MINUTE);
        const slowFire = a.tick();
        await reached.promise; // claimed, enqueue under way
        await b.start();
        await clock.advance(TIMEOUT - 1);
        await clock.flush();
        assert.deepEqual(created, [], "b took nothing over");
        held.resolve();
        assert.deepEqual((await slowFire).map((j) => j.id), [`schedule:beat:${T0 + MINUTE}`]);
        await clock.advance(1);
        await clock.flush();
        assert.deepEqual(pendingOf(await store.getRecord("schedule-state", "beat")), []);
        assert.deepEqual(created, [`schedule:beat:${T0 + MINUTE}`], "created once, by the slow node");
        assert.equal((await b.get("beat"))?.runs, 1);
      } finally {
        subscription.close();
        for (const node of [a, b]) node.close();
        await store.close();
      }
    });

    test("an enqueue that fails leaves the tick claimed and pending: the node enqueues it once the claim times out", async () => {
      const clock = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      let failures = 1;
      const flaky = intercept(store, {
        enqueue: async (target, queue, request) => {
          if (failures-- > 0) throw new Error("connection lost (simulated)");
          return await target.enqueue(queue, request);
        },
      });
      const a = createConveyor({ store: flaky, clock }).scheduler({ autostart: false });
      try {
        await a.schedule("beat", "* * * * *", target, { overlap: "allow" });
        await a.start();
        await clock.advance(MINUTE);
        await clock.flush();
        assert.equal((await store.counts("reports")).waiting, 0, "the enqueue failed");
        assert.deepEqual(pendingOf(await store.getRecord("schedule-state", "beat")).map((m) => m.tick), [T0 + MINUTE]);
        await clock.advance(TIMEOUT);
        await eventually(clock, async () => (await store.counts("reports")).waiting === 1);
        assert.ok(await store.get("reports", `schedule:beat:${T0 + MINUTE}`));
        assert.deepEqual(pendingOf(await store.getRecord("schedule-state", "beat")), []);
        assert.equal((await a.get("beat"))?.runs, 1);
      } finally {
        a.close();
        await store.close();
      }
    });
  });
}
