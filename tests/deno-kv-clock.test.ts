// The Deno KV store keeps time by the clock it is given: the event log is polled on its timers
// and every commit is stamped with the caller's `now` (or its clock's), never the wall clock.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ConveyorEventData, createConveyor, FakeClock } from "../mod.ts";
import { DenoKvStore } from "../src/store/deno-kv/store.ts";
import { type ClosableKv, openDenoKv, tempKvPath } from "./support/deno-kv.ts";
import { eventually, waitUntil } from "./support/harness.ts";
import { echo } from "./support/jobs.ts";

const HOUR_MS = 3_600_000;

describe("Deno KV store on an injected clock", () => {
  const file = tempKvPath();
  let kv: ClosableKv;
  before(async () => {
    kv = await openDenoKv(file.path);
  });
  after(() => {
    kv.close();
    file.remove();
  });

  test("other stores' events are read when the store's clock says a poll is due, not before", async () => {
    const prefix = `poll-${crypto.randomUUID().slice(0, 8)}`;
    const clock = new FakeClock();
    // An hour between polls: on real timers the event below would never arrive within the test.
    const writer = new DenoKvStore({ kv, prefix, clock, pollMs: HOUR_MS });
    const reader = new DenoKvStore({ kv, prefix, clock, pollMs: HOUR_MS });
    try {
      const seen: ConveyorEventData[] = [];
      const subscription = reader.subscribe("q", (event) => seen.push(event), ["paused"]);
      await subscription.ready;
      assert.equal(clock.pendingTimers, 1, "the poll waits on the fake clock");

      await writer.setPaused("q", { paused: true, now: clock.now() });
      await clock.advance(HOUR_MS - 1);
      assert.deepEqual(seen, [], "no poll before pollMs has passed on the fake clock");

      await clock.advance(1);
      await waitUntil(() => seen.length > 0, 5_000, "the polled event");
      const heard = seen as ConveyorEventData[]; // filled by the subscription meanwhile
      assert.deepEqual(heard.map((e) => [e.type, e.at]), [["paused", clock.now() - HOUR_MS]]);
      assert.equal(clock.pendingTimers, 1, "and the next poll is armed on the fake clock");
      subscription.close();
      assert.equal(clock.pendingTimers, 0, "closing the last subscription clears its timer");
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  test("every commit of a job's life is stamped in fake time (the event log's seq is ms × 1000)", async () => {
    const prefix = `stamp-${crypto.randomUUID().slice(0, 8)}`;
    // Far from the wall clock, so one commit stamped with Date.now() would stand out.
    const start = Date.UTC(2001, 0, 1);
    const clock = new FakeClock({ startMs: start, settleMs: 5, trackedWaitMs: 2_000 });
    const store = new DenoKvStore({ kv, prefix, clock });
    const conveyor = createConveyor({ store, clock });
    try {
      const queue = conveyor.queue("q");
      conveyor.worker("q").handle(echo, async ({ n }, ctx) => {
        await ctx.progress(50);
        await ctx.log("halfway");
        return n;
      });
      const job = await queue.add(echo, { n: 1 });
      await eventually(clock, async () => (await queue.get(job.id))?.state === "completed");
      await clock.advance(1_000);
      assert.equal(await queue.clean("completed", { graceMs: 0 }), 1);

      const stamps: number[] = [];
      for await (const entry of kv.list({ prefix: [prefix, "q", "q", "ev"] })) stamps.push(entry.key[entry.key.length - 2] as number);
      assert.ok(stamps.length >= 4, `enqueued, active, progress, completed at least: ${stamps.length}`);
      for (const seq of stamps) {
        const ms = Math.floor(seq / 1_000);
        assert.ok(ms >= start && ms <= clock.now(), `commit stamped ${new Date(ms).toISOString()}, outside fake time`);
      }
    } finally {
      await conveyor.close({ timeoutMs: 0 });
      await store.close();
    }
  });
});
