// The scheduler on every backend, with injected clocks.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import {
  type Clock,
  createConveyor,
  daily,
  dailyAt,
  defineJob,
  every,
  FakeClock,
  hourly,
  isConveyorError,
  type Job,
  MAX_TIMER_DELAY_MS,
  type QueueStore,
  type Scheduler,
  weekly,
} from "../mod.ts";
import { backends } from "./support/backends.ts";
import { eventually, setup } from "./support/harness.ts";

const report = defineJob("report", v.object({ kind: v.string() }));
const target = { queue: "reports", job: report, payload: { kind: "daily" } };
const SECOND = 1_000;
const T0 = Date.UTC(2026, 0, 1); // a Thursday, 00:00:00 UTC

/** Ids of the jobs a schedule enqueued, oldest tick first. */
async function scheduledJobs(store: QueueStore, queue = "reports"): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const state of ["waiting", "active", "completed", "delayed"] as const) jobs.push(...await store.list(queue, state, { offset: 0, limit: 1_000 }));
  return jobs.sort((a, b) => tickOf(a) - tickOf(b));
}
const tickOf = (job: Job) => Number(job.id.split(":").pop());

/** Fires a scheduler's timers one second at a time. */
async function run(clock: FakeClock, seconds: number) {
  for (let i = 0; i < seconds; i++) await clock.advance(SECOND);
  await clock.flush();
}

/** A clock `offsetMs` ahead of (or behind) another, sharing its timers: a node whose clock drifts. */
function drifting(base: FakeClock, offsetMs: number): Clock {
  return {
    now: () => base.now() + offsetMs,
    setTimeout: (callback, delayMs) => base.setTimeout(callback, delayMs),
    clearTimeout: (handle) => base.clearTimeout(handle),
  };
}

/** A clock that records every delay asked of it: a scheduler must never ask for NaN, Infinity or more than a runtime timer holds. */
function recording(base: FakeClock): Clock & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    now: () => base.now(),
    setTimeout: (callback, delayMs) => {
      delays.push(delayMs);
      return base.setTimeout(callback, delayMs);
    },
    clearTimeout: (handle) => base.clearTimeout(handle),
  };
}

/**
 * A view of `store` through which one read of a schedule's state can be held back: the read
 * happens, its answer arrives only when released. This is a node that read the state just
 * before another node claimed a tick, and acts on what it read after that node's job is gone.
 */
function withStaleRead(store: QueueStore) {
  let held: { read: () => void; release: Promise<void> } | undefined;
  let reached!: Promise<void>;
  let release!: () => void;
  const view = new Proxy(store, {
    get(target, property) {
      if (property === "getRecord") {
        return async (namespace: string, key: string) => {
          const value = await target.getRecord(namespace, key);
          const hold = namespace === "schedule-state" ? held : undefined;
          if (hold) {
            held = undefined;
            hold.read();
            await hold.release;
          }
          return value;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store: view,
    /** Holds the next read of a schedule state; `reached` settles once that read was made. */
    hold() {
      let read!: () => void;
      reached = new Promise<void>((resolve) => read = resolve);
      const gate = new Promise<void>((resolve) => release = resolve);
      held = { read, release: gate };
    },
    reached: () => reached,
    release: () => release(),
  };
}

const DAY = 86_400_000;

for (const backend of backends) {
  describe(`Scheduler (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    // Fake time runs ahead of a store's real round trips: a wide grace keeps every tick on time.
    async function fresh(options: { graceMs?: number } = { graceMs: 30_000 }) {
      const h = await setup(backend);
      const scheduler = h.conveyor.scheduler({ autostart: false, ...options });
      return { ...h, scheduler };
    }

    test("a per-second cron enqueues one job per tick, named by its tick", async () => {
      const h = await fresh();
      await h.scheduler.schedule("beat", "* * * * * *", target, { overlap: "allow" });
      await h.scheduler.start();
      await run(h.clock, 5);
      await eventually(h.clock, async () => (await scheduledJobs(h.store)).length === 5);
      const jobs = await scheduledJobs(h.store);
      assert.deepEqual(jobs.map(tickOf), [1, 2, 3, 4, 5].map((s) => T0 + s * SECOND));
      assert.deepEqual(jobs.map((j) => j.payload), Array(5).fill({ kind: "daily" }));
      const [info] = await h.scheduler.list();
      assert.equal(info?.nextRunAt, T0 + 6 * SECOND);
      assert.equal(info?.lastJobId, `schedule:beat:${T0 + 5 * SECOND}`);
      assert.equal(info?.runs, 5);
      assert.equal(info?.lastOutcome, "waiting");
      await h.close();
    });

    test("bad definitions are refused, quoting the value and saying what is expected", async () => {
      const h = await fresh();
      const refused = async (call: Promise<unknown>, pattern: RegExp) =>
        await assert.rejects(call, (e) => isConveyorError(e, "VALIDATION_FAILED") && pattern.test(e.message));
      await refused(h.scheduler.schedule("a", "61 * * * *", target), /"61 \* \* \* \*".*minute.*Expected 5 fields/);
      await refused(h.scheduler.schedule("a", "every day", target), /"every day"/);
      await refused(h.scheduler.schedule("a", "0 3 * * *", target, { timezone: "Mars/Olympus" }), /Unknown timezone "Mars\/Olympus".*IANA/);
      await refused(h.scheduler.schedule("a", "0 3 * * *", { ...target, payload: { kind: 7 } as never }), /payload of schedule "a"/);
      await refused(h.scheduler.schedule("a", "0 3 * * *", target, { overlap: "sometimes" } as never), /overlap/);
      await refused(h.scheduler.schedule("a", "0 3 * * *", target, { catchUp: { all: 0 } }), /catchUp/);
      await refused(h.scheduler.schedule("a", "0 3 * * *", target, { startAt: "not a date" }), /startAt/);
      await refused(h.scheduler.schedule("a", "0 3 * * *", { ...target, options: { jobId: "x" } } as never), /jobId/);
      await assert.rejects(h.scheduler.schedule("has space", "0 3 * * *", target), TypeError);
      assert.throws(() => every(0, "seconds"), RangeError);
      assert.throws(() => dailyAt("25:00"), /HH:MM/);
      assert.throws(() => weekly("someday" as never), /weekday/);
      assert.deepEqual(await h.scheduler.list(), [], "nothing was stored");
      await h.close();
    });

    test("shortcuts and timezones: ticks fall where a user reading them expects", async () => {
      const h = await fresh();
      const next = async (id: string, when: Parameters<Scheduler["schedule"]>[1], timezone?: string) =>
        new Date((await h.scheduler.schedule(id, when, target, timezone ? { timezone } : {})).nextRunAt!).toISOString();
      assert.equal(await next("s15", every(15, "seconds")), "2026-01-01T00:00:15.000Z");
      assert.equal(await next("m5", every(5, "minutes")), "2026-01-01T00:05:00.000Z");
      assert.equal(await next("h", hourly(30)), "2026-01-01T00:30:00.000Z");
      assert.equal(await next("d", daily()), "2026-01-02T00:00:00.000Z");
      assert.equal(await next("d230", dailyAt("02:30")), "2026-01-01T02:30:00.000Z");
      assert.equal(await next("ny", dailyAt("02:30"), "America/New_York"), "2026-01-01T07:30:00.000Z");
      assert.equal(await next("mon", weekly("monday", "09:00"), "Europe/Berlin"), "2026-01-05T08:00:00.000Z");
      assert.equal(await next("six", "30 15 10 * * *"), "2026-01-01T10:15:30.000Z");
      await h.close();
    });

    test("overlap: skip waits for the last run to finish, queue keeps one pending, allow enqueues every tick", async () => {
      const h = await fresh();
      await h.scheduler.schedule("skip", "* * * * * *", { ...target, queue: "skip" });
      await h.scheduler.schedule("queue", "* * * * * *", { ...target, queue: "queue" }, { overlap: "queue" });
      await h.scheduler.schedule("allow", "* * * * * *", { ...target, queue: "allow" }, { overlap: "allow" });
      await h.scheduler.start();
      // "queue" has one run active (a worker holds it) when the next ticks come.
      await run(h.clock, 1);
      await eventually(h.clock, async () => (await h.store.counts("queue")).waiting === 1);
      await h.store.claim("queue", { workerId: "w", limit: 1, leaseMs: 60_000, now: h.clock.now() });
      await run(h.clock, 3);
      await eventually(h.clock, async () => (await h.store.counts("allow")).waiting === 4);
      assert.equal((await h.store.counts("skip")).waiting, 1, "skip: the first run is still waiting, so ticks 2-4 were skipped");
      const skip = await h.scheduler.get("skip");
      assert.equal(skip?.skipped, 3);
      assert.equal(skip?.lastOutcome, "skipped");
      const queued = await h.store.counts("queue");
      assert.deepEqual([queued.active, queued.waiting], [1, 1], "queue: one active, exactly one pending behind it");
      await h.close();
    });

    test("missed ticks after downtime: none, latest, or all up to a bound", async () => {
      const h = await fresh({ graceMs: 2_000 });
      const first = h.conveyor.scheduler({ autostart: false, graceMs: 2_000 });
      for (const [id, catchUp] of [["none", "none"], ["latest", "latest"], ["all", { all: 3 }]] as const) {
        await first.schedule(id, "* * * * *", { ...target, queue: id }, { catchUp, overlap: "allow" });
      }
      await first.start();
      await h.clock.advance(60 * SECOND);
      await eventually(h.clock, async () => (await h.store.counts("all")).waiting === 1);
      first.close();
      await h.clock.advance(10 * 60 * SECOND + 30 * SECOND); // down from 00:01 to 00:11:30: ticks 00:02 … 00:11 missed
      await h.scheduler.start();
      await eventually(h.clock, async () => (await h.store.counts("all")).waiting === 4);
      await h.clock.flush();
      const minutes = async (queue: string) => (await scheduledJobs(h.store, queue)).map((j) => new Date(tickOf(j)).getUTCMinutes());
      assert.deepEqual(await minutes("none"), [1]);
      assert.deepEqual(await minutes("latest"), [1, 11]);
      assert.deepEqual(await minutes("all"), [1, 9, 10, 11]);
      await run(h.clock, 30);
      await eventually(h.clock, async () => (await h.store.counts("none")).waiting === 2);
      assert.deepEqual(await minutes("none"), [1, 12], "and on time again from the next tick");
      await h.close();
    });

    test("three nodes whose clocks drift by ±2 s fire each tick exactly once, with no gap", async () => {
      const base = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      const nodes = [-2_000, 0, 2_000].map((offset) => createConveyor({ store, clock: drifting(base, offset) }));
      const schedulers = nodes.map((node) => node.scheduler({ autostart: false, graceMs: 30_000 }));
      for (const scheduler of schedulers) await scheduler.schedule("beat", "* * * * * *", target, { overlap: "allow" });
      await Promise.all(schedulers.map((s) => s.start()));
      await run(base, 15);
      // Fake time outruns a store's real round trips: wait for the ticks to catch up with it.
      await eventually(base, async () => (await scheduledJobs(store)).some((job) => tickOf(job) >= T0 + 15 * SECOND));
      const ticks = (await scheduledJobs(store)).map(tickOf);
      assert.equal(new Set(ticks).size, ticks.length, "no tick fired twice");
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]! - ticks[i - 1]!, SECOND, "no gap");
      assert.ok(ticks[0]! <= T0 + SECOND && ticks.at(-1)! >= T0 + 15 * SECOND, `ticks cover the whole run: ${ticks.length}`);
      for (const scheduler of schedulers) scheduler.close();
      await store.close();
    });

    test("a tick stays fired when its job is already gone: a node that read the state before the claim enqueues nothing", async () => {
      const clock = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      const late = withStaleRead(store);
      const a = createConveyor({ store, clock }).scheduler({ autostart: false });
      const b = createConveyor({ store: late.store, clock }).scheduler({ autostart: false });
      try {
        const deletedOnComplete = { ...target, options: { removeOnComplete: true } };
        for (const node of [a, b]) await node.schedule("beat", "* * * * * *", deletedOnComplete, { overlap: "allow" });
        const at = T0 + SECOND;

        late.hold();
        const lateFired = b.tick(at);
        await late.reached(); // b has read the state: nothing fired yet
        const fired = await a.tick(at);
        assert.deepEqual(fired.map((j) => j.id), [`schedule:beat:${at}`]);
        // A worker completes the job, which deletes it: no job is left to say the tick fired.
        const { jobs } = await store.claim("reports", { workerId: "w", limit: 10, leaseMs: 60_000, now: at });
        await store.finish("reports", { outcomes: jobs.map((j) => ({ id: j.id, token: j.lease!.token, kind: "completed" as const, result: null })), now: at });
        assert.equal(await store.get("reports", fired[0]!.id), null);
        late.release();

        assert.deepEqual(await lateFired, [], "the late node finds the tick claimed");
        assert.equal((await store.counts("reports")).waiting, 0);
        assert.equal((await a.get("beat"))?.runs, 1);
        assert.deepEqual(await b.tick(at + 500), [], "and later in the same second too");
      } finally {
        for (const node of [a, b]) node.close();
        await store.close();
      }
    });

    test("runs loses no update when two nodes change the state at once", async () => {
      const clock = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      const late = withStaleRead(store);
      const a = createConveyor({ store, clock }).scheduler({ autostart: false });
      const b = createConveyor({ store: late.store, clock }).scheduler({ autostart: false });
      try {
        for (const node of [a, b]) await node.schedule("beat", "0 3 * * *", target);
        late.hold();
        const byB = b.trigger("beat");
        await late.reached(); // b read runs = 0
        const byA = await a.trigger("beat");
        late.release();
        await byB;
        const info = await a.get("beat");
        assert.equal(info?.runs, 2, "both runs counted");
        assert.notEqual(info?.lastJobId, byA.id, "the later write is b's, made on the state a left");
      } finally {
        for (const node of [a, b]) node.close();
        await store.close();
      }
    });

    test("a yearly cron sleeps in steps a runtime timer can hold and fires once, at its time", async () => {
      const base = new FakeClock({ settleMs: backend.settleMs });
      const clock = recording(base);
      const store = await backend.create();
      const scheduler = createConveyor({ store, clock }).scheduler({ autostart: false, refreshMs: MAX_TIMER_DELAY_MS });
      try {
        const newYear = Date.UTC(2027, 0, 1);
        assert.equal((await scheduler.schedule("yearly", "0 0 1 1 *", target)).nextRunAt, newYear);
        await scheduler.start();
        while (base.now() < newYear - DAY) await base.advance(Math.min(7 * DAY, newYear - DAY - base.now()));
        await base.advance(DAY - 1);
        await base.flush();
        assert.equal((await scheduledJobs(store)).length, 0, "nothing before its time");
        await base.advance(1);
        await eventually(base, async () => (await scheduledJobs(store)).length === 1);
        await base.advance(30 * DAY);
        const jobs = await scheduledJobs(store);
        assert.deepEqual(jobs.map((j) => [tickOf(j), j.createdAt]), [[newYear, newYear]], "one run, enqueued at its tick");
        assert.ok(clock.delays.every((d) => Number.isFinite(d) && d >= 0 && d <= MAX_TIMER_DELAY_MS), `delays: ${clock.delays.join(", ")}`);
        assert.ok(clock.delays.length < 40, `a timer every ~24.8 days, not a spin: ${clock.delays.length} timers in 13 months`);
      } finally {
        scheduler.close();
        await store.close();
      }
    });

    test("an interval past a Date's range is refused; one of 31,700 years waits without spinning", async () => {
      const base = new FakeClock({ settleMs: backend.settleMs });
      const clock = recording(base);
      const store = await backend.create();
      const scheduler = createConveyor({ store, clock }).scheduler({ autostart: false, refreshMs: MAX_TIMER_DELAY_MS });
      try {
        for (const everyMs of [1e300, Infinity, Number.MAX_VALUE, NaN]) {
          await assert.rejects(scheduler.schedule("far", { everyMs }, target), (e) => isConveyorError(e, "VALIDATION_FAILED") && /range of a Date/.test(e.message));
        }
        assert.throws(() => createConveyor({ store, clock }).scheduler({ refreshMs: 1e300 }), /refreshMs/);
        const info = await scheduler.schedule("far", { everyMs: 1e15 }, target);
        assert.equal(info.nextRunAt, 1e15);
        await scheduler.start();
        for (let i = 0; i < 12; i++) await base.advance(30 * DAY);
        assert.equal((await scheduledJobs(store)).length, 0);
        assert.ok(clock.delays.every((d) => Number.isFinite(d) && d >= 0 && d <= MAX_TIMER_DELAY_MS), `delays: ${clock.delays.join(", ")}`);
        assert.ok(clock.delays.length < 40, `${clock.delays.length} timers in a year`);
      } finally {
        scheduler.close();
        await store.close();
      }
    });

    test("tick(now) fires what is due since the last tick, once: calling it again adds nothing", async () => {
      const h = await fresh();
      await h.scheduler.schedule("minutely", "* * * * *", target, { overlap: "allow" });
      await h.scheduler.schedule("hourly", hourly(), { ...target, queue: "hourly" }, { overlap: "allow" });
      const at = (minutes: number) => T0 + minutes * 60 * SECOND;
      assert.deepEqual((await h.scheduler.tick(at(1))).map((j) => j.id), [`schedule:minutely:${at(1)}`]);
      assert.deepEqual(await h.scheduler.tick(at(1)), [], "the same minute again: nothing new");
      assert.deepEqual(await h.scheduler.tick(at(1) + 20 * SECOND), [], "later in the same minute: nothing new");
      const late = await h.scheduler.tick(at(3));
      assert.deepEqual(late.map((j) => tickOf(j)), [at(2), at(3)], "a trigger that missed a minute makes it up within the grace");
      const hour = await h.scheduler.tick(at(60));
      assert.ok(hour.some((j) => j.id === `schedule:hourly:${at(60)}`));
      await h.close();
    });

    test("start and end dates and maxRuns bound the ticks", async () => {
      const h = await fresh();
      await h.scheduler.schedule("window", "* * * * * *", target, { overlap: "allow", startAt: new Date(T0 + 3 * SECOND), endAt: T0 + 5 * SECOND });
      await h.scheduler.schedule("three", "* * * * * *", { ...target, queue: "three" }, { overlap: "allow", maxRuns: 3 });
      await h.scheduler.start();
      await run(h.clock, 8);
      await eventually(h.clock, async () => (await h.store.counts("three")).waiting === 3 && (await h.store.counts("reports")).waiting === 3);
      await h.clock.flush();
      assert.deepEqual((await scheduledJobs(h.store)).map((j) => (tickOf(j) - T0) / SECOND), [3, 4, 5]);
      assert.deepEqual((await scheduledJobs(h.store, "three")).map((j) => (tickOf(j) - T0) / SECOND), [1, 2, 3]);
      assert.equal((await h.scheduler.get("three"))?.nextRunAt, null);
      await h.close();
    });

    test("schedules live in the store: paused, resumed, triggered, removed, and still there for a new scheduler", async () => {
      const h = await fresh();
      await h.scheduler.schedule("beat", "* * * * * *", target, { overlap: "allow", paused: true });
      await h.scheduler.start();
      await run(h.clock, 3);
      assert.equal((await scheduledJobs(h.store)).length, 0, "paused: nothing fires");
      assert.equal((await h.scheduler.get("beat"))?.nextRunAt, null);
      const manual = await h.scheduler.trigger("beat");
      assert.equal(manual.queue, "reports");
      await h.scheduler.resume("beat");
      await run(h.clock, 2);
      await eventually(h.clock, async () => (await scheduledJobs(h.store)).length === 3);
      h.scheduler.close();

      const again = h.conveyor.scheduler({ autostart: false });
      const [stored] = await again.list();
      assert.equal(stored?.id, "beat");
      assert.equal(stored?.cron, "* * * * * *");
      assert.equal(stored?.runs, 3);
      await again.pause("beat");
      assert.equal((await again.get("beat"))?.paused, true);
      assert.equal(await again.remove("beat"), true);
      assert.deepEqual(await again.list(), []);
      await assert.rejects(again.trigger("beat"), (e) => isConveyorError(e, "JOB_NOT_FOUND"));
      await h.close();
    });
  });
}
