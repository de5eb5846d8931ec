// Worker timing bugs found from outside: retries at every concurrency, timers past 2^31−1 ms.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createConveyor, MAX_TIMER_DELAY_MS, systemClock } from "../mod.ts";
import { backends } from "./support/backends.ts";
import { eventually, setup } from "./support/harness.ts";
import { echo, flaky } from "./support/jobs.ts";

for (const backend of backends) {
  describe(`Worker timing (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    for (const concurrency of [1, 2, 3, 10]) {
      test(`retries on the backoff's time at concurrency ${concurrency}, not at the next stall check`, async () => {
        const h = await setup(backend);
        const queue = h.conveyor.queue("q");
        const starts: number[] = [];
        const t0 = h.clock.now();
        h.conveyor.worker("q", { concurrency }).handle(flaky, ({ failTimes }, ctx) => {
          starts.push(h.clock.now() - t0);
          if (ctx.attempt <= failTimes) throw new Error(`attempt ${ctx.attempt} fails`);
          return "ok";
        });
        const job = await queue.add(flaky, { failTimes: 2 });
        await eventually(h.clock, () => starts.length === 1);
        await h.clock.advance(1_000);
        await eventually(h.clock, () => starts.length === 2);
        await h.clock.advance(1_000);
        await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
        assert.deepEqual(starts, [0, 1_000, 2_000]);
        await h.close();
      });
    }
  });
}

describe("Timers past 2^31−1 ms", () => {
  /** Runtime timers armed while `body` runs, with their delays. */
  async function runtimeTimers(body: () => Promise<void>): Promise<number[]> {
    const delays: number[] = [];
    const original = globalThis.setTimeout;
    globalThis.setTimeout = ((callback: () => void, delay?: number) => {
      delays.push(delay ?? 0);
      return original(callback, delay);
    }) as typeof globalThis.setTimeout;
    try {
      await body();
    } finally {
      globalThis.setTimeout = original;
    }
    return delays;
  }

  test("the system clock arms a long timer in steps, fires it at its time, and never for Infinity", async () => {
    const realNow = Date.now;
    const start = realNow();
    let now = start;
    Date.now = () => now;
    const armed: { callback: () => void; delay: number }[] = [];
    const original = globalThis.setTimeout;
    globalThis.setTimeout = ((callback: () => void, delay = 0) => {
      armed.push({ callback, delay });
      return 0;
    }) as unknown as typeof globalThis.setTimeout;
    try {
      let fired = 0;
      const day = 86_400_000;
      systemClock.setTimeout(() => fired++, 35 * day);
      systemClock.setTimeout(() => fired += 100, Infinity);
      assert.equal(armed.length, 1, "Infinity holds no runtime timer");
      for (let step = 0; fired === 0; step++) {
        assert.ok(step < 5, "fires within a few steps");
        const next = armed.shift()!;
        assert.ok(next.delay <= MAX_TIMER_DELAY_MS, `armed ${next.delay} ms, more than a runtime timer honours`);
        now += next.delay;
        next.callback();
      }
      assert.equal(fired, 1);
      assert.equal(now - start, 35 * day, "fired at its time, not before");
    } finally {
      globalThis.setTimeout = original;
      Date.now = realNow;
    }
  });

  test("a worker with a 35-day delayed job and a 3e9 ms timeout does not spin", async () => {
    const conveyor = createConveyor({ clock: systemClock });
    const queue = conveyor.queue("long");
    let started = 0;
    const delays = await runtimeTimers(async () => {
      conveyor.worker("long", { stallCheckMs: 60_000 }).handle(echo, () => {
        started++;
        return new Promise(() => {}); // runs "for ever": only its 3e9 ms timeout could end it
      });
      await queue.add(echo, { n: 1 }, { delayMs: 35 * 86_400_000 });
      await queue.add(echo, { n: 2 }, { timeoutMs: 3e9 });
      await new Promise((resolve) => setTimeout(resolve, 150));
    });
    assert.equal(started, 1, "the delayed job waits; the other runs");
    assert.equal((await queue.counts()).active, 1, "the 3e9 ms timeout has not fired");
    assert.ok(delays.every((d) => d <= MAX_TIMER_DELAY_MS), `a runtime timer was armed past its limit: ${delays.filter((d) => d > MAX_TIMER_DELAY_MS)}`);
    assert.ok(delays.length < 30, `${delays.length} timers armed in 150 ms: the worker is spinning`);
    await conveyor.close({ timeoutMs: 0 });
  });
});
