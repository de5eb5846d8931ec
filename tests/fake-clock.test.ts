import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../mod.ts";

test("FakeClock: advance fires timers in time order, and only those due", async () => {
  const clock = new FakeClock({ startMs: 0 });
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b@20"), 20);
  clock.setTimeout(() => fired.push("a@10"), 10);
  const cancelled = clock.setTimeout(() => fired.push("never"), 15);
  clock.clearTimeout(cancelled);
  await clock.advance(19);
  assert.deepEqual(fired, ["a@10"]);
  assert.equal(clock.now(), 19);
  await clock.advance(1);
  assert.deepEqual(fired, ["a@10", "b@20"]);
  await assert.rejects(clock.advance(-1), RangeError);
});

test("FakeClock: flush fires timers set for the present moment, never later ones", async () => {
  const clock = new FakeClock({ startMs: 0 });
  const fired: string[] = [];
  await clock.advance(100);
  // Work that finishes after `advance` returned asks to be woken now (and once more later).
  clock.setTimeout(() => fired.push("now"), 0);
  clock.setTimeout(() => fired.push("later"), 1);
  await clock.flush();
  assert.deepEqual(fired, ["now"]);
  assert.equal(clock.now(), 100);
  assert.equal(clock.pendingTimers, 1);
});
