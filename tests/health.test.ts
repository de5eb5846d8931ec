// Health in fake time: checks within their limits and the report within its deadline (a store
// that hangs is down, and /health answers 503), the configuration in force, and the 24-hour
// figures from hourly buckets in the store: when they are written, by several writers at once.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as v from "valibot";
import { createConveyor, defineJob, FakeClock, MemoryStore, type QueueStore, RateLimiter, StatsRecorder } from "../mod.ts";
import { createApp } from "../http.ts";
import { figuresOf, hourKey, hourOf, HOUR_MS, type StatsBucket } from "../src/core/health-buckets.ts";
import { eventually } from "./support/harness.ts";
import { hangingStore } from "./support/hanging-store.ts";

const task = defineJob("task", v.object({ ms: v.number(), fail: v.optional(v.boolean()) }), {
  attempts: 3,
  backoff: { type: "fixed", delayMs: 1_000 },
  timeoutMs: 30_000,
  deadLetter: false,
});

/** A handler that takes `ms` of the fake clock, then completes or throws. */
const handler = (clock: FakeClock) => ({ ms, fail }: { ms: number; fail?: boolean }) =>
  new Promise<string>((resolve, reject) => clock.setTimeout(() => fail ? reject(new Error("boom")) : resolve("done"), ms));

/** Advances fake time in steps until `done` holds. */
async function runUntil(clock: FakeClock, done: () => Promise<boolean>, stepMs = 50, maxSteps = 400): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (await done()) return;
    await clock.advance(stepMs);
  }
  throw new Error("not done in fake time");
}

const failOnError = (error: unknown) => assert.fail(`a flush failed: ${error}`);

const quietly = <T>(fn: () => T): T => {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return fn();
  } finally {
    console.warn = warn;
  }
};

describe("health", () => {
  test("a healthy conveyor: checks ok, the configuration in force, figures from the store", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock });
    const limiter = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 10, windowMs: 3_600_000 }, clock });
    conveyor.worker("q", { concurrency: 1, rateLimits: [{ limiter }] }).handle(task, handler(clock));
    const queue = conveyor.queue("q");
    queue.events.addEventListener("failed", () => {}); // watched: no console line for the job failing on purpose
    for (const ms of [100, 200, 300, 400]) await queue.add(task, { ms });
    await queue.add(task, { ms: 0, fail: true }, { attempts: 2 });
    await runUntil(clock, async () => (await queue.counts()).completed === 4 && (await queue.counts()).failed === 1);

    const report = await conveyor.health.report();
    assert.equal(report.status, "ok");
    assert.deepEqual(Object.keys(report.checks), ["store"], "a memory store has no connection to probe");
    assert.equal(report.checks.store!.status, "ok");
    assert.equal(report.configuration.statsFlushMs, 5_000);
    const [q] = report.queues;
    assert.deepEqual(q!.configuration.jobs, [{ name: "task", attempts: 3, backoff: { type: "fixed", delayMs: 1_000 }, timeoutMs: 30_000, deadLetter: false }]);
    assert.equal(q!.configuration.workers[0]!.concurrency, 1);
    const [limit] = q!.configuration.rateLimits;
    // Six attempts were admitted: four completed jobs, and the failing one twice.
    assert.deepEqual({ scope: limit!.scope, current: limit!.current, max: limit!.max, percent: limit!.percent }, { scope: "queue", current: 6, max: 10, percent: 60 });
    const day = q!.last24h!;
    assert.deepEqual(
      { executions: day.executions, completed: day.completed, failed: day.failed, retried: day.retried, failedForGood: day.failedForGood },
      { executions: 6, completed: 4, failed: 2, retried: 1, failedForGood: 1 },
    );
    assert.equal(day.successRate, 0.6667);
    assert.equal(day.failureRate, 0.3333);
    assert.equal(day.averageDurationMs, Math.round(1_000 / 6));
    assert.ok(Math.abs(day.p95DurationMs! - 400) <= 40, `p95 ${day.p95DurationMs} is within 10% of 400`);
    assert.equal(day.maxDurationMs, 400);
    assert.deepEqual(q!.unavailable, []);
    await conveyor.close();
  });

  test("counts are written every statsFlushMs and on close; an idle conveyor writes nothing", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    let swaps = 0;
    let written: StatsBucket | undefined;
    const swap = store.compareAndSetRecord.bind(store);
    store.compareAndSetRecord = (namespace, key, expected, value) => {
      swaps++;
      written = value as StatsBucket;
      return swap(namespace, key, expected, value);
    };
    const conveyor = createConveyor({ store, clock, health: { statsFlushMs: 2_000 } });
    conveyor.worker("q").handle(task, handler(clock));
    const queue = conveyor.queue("q");
    const stored = async () => (await store.listRecords<StatsBucket>("stats:q"))[0]?.value.completed ?? 0;
    await queue.add(task, { ms: 0 });
    await eventually(clock, async () => (await queue.counts()).completed === 1);
    assert.equal(await stored(), 0, "held in memory until the flush");
    assert.equal(conveyor.health.stats!.unflushed("q"), 1);
    await clock.advance(1_999);
    assert.equal(await stored(), 0);
    await clock.advance(1);
    assert.equal(await stored(), 1, "written statsFlushMs after the first count");
    assert.equal(swaps, 1, "one read and one compare-and-set per queue and hour");
    await clock.advance(60_000);
    assert.equal(swaps, 1, "nothing counted, nothing written");
    await queue.add(task, { ms: 0 });
    await eventually(clock, async () => (await queue.counts()).completed === 2);
    await conveyor.close();
    assert.equal(written?.completed, 2, "close writes what the last interval counted");
  });

  test("two conveyors on one store add into the same hourly bucket", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const a = createConveyor({ store, clock });
    const b = createConveyor({ store, clock });
    const ran = { a: 0, b: 0 };
    a.worker("q", { concurrency: 2 }).handle(task, async (payload) => (ran.a++, handler(clock)(payload)));
    b.worker("q", { concurrency: 2 }).handle(task, async (payload) => (ran.b++, handler(clock)(payload)));
    const queue = a.queue("q");
    b.queue("q");
    await queue.addBulk(Array.from({ length: 40 }, (_, i) => ({ job: task, payload: { ms: 10 + i } })));
    await runUntil(clock, async () => (await queue.counts()).completed === 40, 10);
    assert.ok(ran.a > 0 && ran.b > 0, `both ran jobs (${ran.a} and ${ran.b})`);
    await clock.advance(5_000); // both flush
    assert.equal((await store.listRecords("stats:q")).length, 1, "one record for the hour");
    const fromA = (await a.health.report()).queues[0]!.last24h!;
    const fromB = (await b.health.report()).queues[0]!.last24h!;
    assert.equal(fromA.completed, 40);
    assert.deepEqual(fromA, fromB, "every process reads the same figures");
    await Promise.all([a.close(), b.close()]);
  });

  test("a writer that loses a compare-and-set reads again: concurrent flushes lose nothing", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const first = new StatsRecorder({ store, clock, flushMs: 1_000, reportError: failOnError });
    const second = new StatsRecorder({ store, clock, flushMs: 1_000, reportError: failOnError });
    // The first recorder's first read is answered only after the second has written: its swap
    // then finds the record changed, and must read and add again.
    const read = store.getRecord.bind(store);
    let interleaved = false;
    store.getRecord = (async (namespace: string, key: string) => {
      const value = await read(namespace, key);
      if (!interleaved) {
        interleaved = true;
        await second.flush();
      }
      return value;
    }) as QueueStore["getRecord"];
    const at = clock.now();
    for (let i = 0; i < 3; i++) first.record("q", "completed", 10, at);
    for (let i = 0; i < 5; i++) second.record("q", "failed", 20, at);
    await first.flush();
    const figures = await first.figures("q");
    assert.deepEqual([figures.completed, figures.failedForGood, figures.executions], [3, 5, 8]);
    assert.equal(first.unflushed("q") + second.unflushed("q"), 0);
  });

  test("figures read the current hour and the 23 before it; buckets past 48 hours are deleted", async () => {
    const clock = new FakeClock({ startMs: Date.UTC(2026, 2, 1, 12, 30) });
    const store = new MemoryStore();
    const now = clock.now();
    const bucket = (hoursAgo: number, completed: number): [string, StatsBucket] => {
      const hour = hourOf(now) - hoursAgo * HOUR_MS;
      return [hourKey(hour), { v: 1, hour, completed, retried: 0, failed: 0, durationMs: 0, maxMs: 0, histogram: { 0: completed } }];
    };
    for (const [key, value] of [bucket(0, 1), bucket(23, 10), bucket(24, 100), bucket(49, 1_000)]) await store.putRecord("stats:q", key, value);
    const conveyor = createConveyor({ store, clock });
    conveyor.queue("q");
    assert.equal((await conveyor.health.report()).queues[0]!.last24h!.completed, 11);
    assert.equal((await conveyor.health.report()).queues[0]!.last24h!.from, "2026-02-28T13:00:00.000Z");
    conveyor.health.stats!.record("q", "completed", 1, now); // a flush of this queue prunes it
    await conveyor.health.stats!.flush();
    assert.deepEqual((await store.listRecords("stats:q")).map((r) => r.key), ["2026-02-28T12", "2026-02-28T13", "2026-03-01T12"]);
    await conveyor.close();
  });

  test("p95 from the histogram is within 10% of the true one", () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const recorder = new StatsRecorder({ store, clock, flushMs: 1_000, reportError: failOnError });
    for (let ms = 1; ms <= 2_000; ms++) recorder.record("q", "completed", ms, clock.now());
    return recorder.flush().then(async () => {
      const figures = figuresOf(await store.listRecords("stats:q"), clock.now());
      assert.ok(Math.abs(figures.p95DurationMs! - 1_900) / 1_900 < 0.1, `p95 ${figures.p95DurationMs}`);
      assert.equal(figures.averageDurationMs, 1_001);
    });
  });

  test("a store that hangs: down within the deadline, and /health answers 503", async () => {
    const clock = new FakeClock();
    const store = hangingStore();
    const conveyor = createConveyor({ store, clock });
    conveyor.queue("q");
    const pending = conveyor.health.report();
    await clock.advance(1_499);
    let settled = false;
    void pending.then(() => settled = true);
    await clock.flush();
    assert.equal(settled, false, "still within the deadline");
    await clock.advance(1);
    const report = await pending;
    assert.equal(report.status, "down");
    assert.equal(report.durationMs, 1_500);
    assert.deepEqual(report.checks.store, { status: "down", message: "no answer within 1000 ms", durationMs: 1_000, critical: true });
    assert.deepEqual(report.queues[0]!.unavailable, ["paused", "counts", "last24h"]);
    assert.equal(report.queues[0]!.counts, null);

    const app = quietly(() => createApp(conveyor, { auth: false }));
    const answer = app.request("/health?format=text");
    await clock.advance(1_500);
    const response = await answer;
    assert.equal(response.status, 503);
    assert.match(await response.text(), /^status: down at .*\nchecks:\n {2}store +down +1000 ms {2}no answer within 1000 ms\n/);
    const json = app.request("/health?queue=q");
    await clock.advance(1_500);
    assert.equal((await json).status, 503);
    assert.equal((await (await json).json()).queues[0].name, "q");
    await conveyor.close();
  });

  test("custom checks: each within its own time; a non-critical one only degrades", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({
      clock,
      health: { checks: { config: () => true, cache: { check: () => ({ status: "degraded", message: "warming up" }), critical: false } } },
    });
    const health = conveyor.health;
    assert.deepEqual((await health.check()).status, "degraded");
    let aborted = false;
    const removeHang = health.register("payments", (signal) => new Promise(() => signal.addEventListener("abort", () => aborted = true)), { timeoutMs: 200 });
    health.register("mail", () => false, { critical: false });
    health.register("search", () => Promise.reject(new TypeError("index missing")), { critical: false });
    health.register("odd", (() => 42) as never, { critical: false });
    health.register("slow", () => new Promise<void>((resolve) => clock.setTimeout(resolve, 600)));
    const pending = health.check();
    await clock.advance(600);
    const { status, checks } = await pending;
    assert.equal(status, "down");
    assert.deepEqual(checks.payments, { status: "down", message: "no answer within 200 ms", durationMs: 200, critical: true });
    assert.ok(aborted, "the check's signal aborts when its time is up");
    assert.equal(checks.mail!.status, "down");
    assert.equal(checks.search!.message, "TypeError: index missing");
    assert.match(checks.odd!.message!, /neither a boolean nor/);
    assert.deepEqual(checks.slow, { status: "degraded", message: "answered in 600 ms, over half its 1000 ms limit", durationMs: 600, critical: true });
    removeHang();
    const later = health.check();
    await clock.advance(600);
    assert.equal((await later).status, "degraded", "what is down is not critical");
    assert.equal((await later).checks.payments, undefined);

    assert.throws(() => health.register("store", () => true), RangeError);
    assert.throws(() => health.register("mail", () => true), /registered already/);
    assert.throws(() => health.register("has space", () => true), TypeError);
    assert.throws(() => health.register("x", "yes" as never), TypeError);
    assert.throws(() => health.register("y", () => true, { timeoutMs: 0 }), TypeError);
    assert.throws(() => createConveyor({ health: { deadlineMs: -1 } }), /health options/);
    await conveyor.close();
  });

  test("?queue= narrows the report to one queue; a queue this process did not declare is 404", async () => {
    const conveyor = createConveyor({ health: { statsFlushMs: false } });
    conveyor.queue("a");
    conveyor.queue("b");
    const app = quietly(() => createApp(conveyor, { auth: false }));
    const one = await (await app.request("/health?queue=b")).json();
    assert.deepEqual(one.queues.map((q: { name: string }) => q.name), ["b"]);
    assert.equal(one.queues[0].last24h, null, "no figures kept");
    assert.equal(one.configuration.statsFlushMs, null);
    const unknown = await app.request("/health?queue=nope");
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.code, "QUEUE_NOT_FOUND");
    assert.equal((await app.request("/health?queue=a%20b")).status, 400);
    await assert.rejects(conveyor.health.report({ queue: "nope" }), RangeError);
    await conveyor.close();
  });

  test("/health shows the caller its own use of the HTTP rate limit", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock, health: { statsFlushMs: false } });
    const limiter = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 5, windowMs: 60_000 }, clock });
    const app = quietly(() => createApp(conveyor, { auth: false, rateLimit: { limiter } }));
    await app.request("/queues");
    await app.request("/queues");
    const doc = await (await app.request("/health")).json();
    assert.deepEqual(doc.rateLimit, {
      rule: { algorithm: "fixed-window", limit: 5, windowMs: 60_000 },
      sharedAcrossProcesses: false,
      allowed: 3,
      limited: 0,
      current: 3,
      max: 5,
      percent: 60,
    });
    assert.match(await (await app.request("/health?format=text")).text(), /rate limit \(HTTP\): 5 per 60000 ms \(fixed-window\), yours 4\/5 \(80%\), 4 allowed/);
    await conveyor.close();
  });

  test("rate limits read their current use without taking any", async () => {
    const clock = new FakeClock();
    for (
      const rule of [
        { algorithm: "fixed-window", limit: 5, windowMs: 1_000 },
        { algorithm: "sliding-window", limit: 5, windowMs: 1_000 },
        { algorithm: "token-bucket", capacity: 5, refillPerSecond: 1 },
      ] as const
    ) {
      const limiter = new RateLimiter({ rule, clock });
      assert.deepEqual(await limiter.usage("k"), { used: 0, limit: 5 });
      for (let i = 0; i < 3; i++) await limiter.consume("k");
      assert.deepEqual(await limiter.usage("k"), { used: 3, limit: 5 }, rule.algorithm);
      assert.deepEqual(await limiter.usage("k"), { used: 3, limit: 5 }, "reading takes nothing");
      await clock.advance(1_000);
      assert.equal((await limiter.usage("k"))!.used, rule.algorithm === "token-bucket" ? 2 : 0, rule.algorithm);
    }
  });
});
