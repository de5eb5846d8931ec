// One worker, many queues: strict and weighted order under one concurrency limit, and every
// per-queue duty (pause, leases, stalls, retries, rate limits, close, errors) for each queue.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createConveyor, FakeClock, isConveyorError, MemoryStore, type Queue, Worker, type WorkerErrorEvent } from "../mod.ts";
import { RateLimiter } from "../src/core/rate-limiter.ts";
import { backends } from "./support/backends.ts";
import { deferred, eventually, setup } from "./support/harness.ts";
import { echo, flaky } from "./support/jobs.ts";

const memory = backends[0]!;

/** `count` echo jobs in `queue`, numbered from `from`. */
async function fill(queue: Queue, count: number, from = 0): Promise<void> {
  await queue.addBulk(Array.from({ length: count }, (_, i) => ({ job: echo, payload: { n: from + i } })));
}

describe("A worker of several queues: strict order", () => {
  test("every job of the first queue starts before any of the second while both have work", async () => {
    const h = await setup(memory);
    await fill(h.conveyor.queue("default"), 20);
    await fill(h.conveyor.queue("high-priority"), 20);
    const started: string[] = [];
    h.conveyor.worker(["high-priority", "default"], { concurrency: 3 }).handle(echo, async (_, ctx) => {
      started.push(ctx.queue);
      await Promise.resolve();
    });
    await eventually(h.clock, () => started.length === 40);
    assert.deepEqual(started, [...Array(20).fill("high-priority"), ...Array(20).fill("default")]);
    await h.close();
  });

  test("the second queue is served while the first is empty; a job in the first takes the next free slot", async () => {
    const h = await setup(memory);
    const high = h.conveyor.queue("high");
    await fill(h.conveyor.queue("low"), 3);
    const started: string[] = [];
    const gates: ReturnType<typeof deferred<void>>[] = [];
    h.conveyor.worker([high, "low"]).handle(echo, async ({ n }, ctx) => {
      started.push(`${ctx.queue}${n}`);
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
    });
    await eventually(h.clock, () => started.length === 1);
    await high.add(echo, { n: 9 });
    gates[0]!.resolve();
    await eventually(h.clock, () => started.length === 2);
    gates[1]!.resolve();
    await eventually(h.clock, () => started.length === 3);
    gates[2]!.resolve();
    await eventually(h.clock, () => started.length === 4);
    gates[3]!.resolve();
    assert.deepEqual(started, ["low0", "high9", "low1", "low2"]);
    await h.close();
  });
});

describe("A worker of several queues: weighted order", () => {
  for (const concurrency of [1, 4]) {
    test(`weights 3:1 give ~3× the slots while both queues have work (concurrency ${concurrency}, 400 jobs)`, async () => {
      const h = await setup(memory);
      await fill(h.conveyor.queue("a"), 400);
      await fill(h.conveyor.queue("b"), 400);
      const started: string[] = [];
      h.conveyor.worker(["a", "b"], { concurrency, order: { weights: { a: 3, b: 1 } } }).handle(echo, async (_, ctx) => {
        started.push(ctx.queue);
        await Promise.resolve();
      });
      await eventually(h.clock, () => started.length >= 400);
      const first = started.slice(0, 400);
      const a = first.filter((q) => q === "a").length;
      assert.ok(Math.abs(a - 300) <= 8, `a got ${a} of the first 400 slots, expected 300 ± 8`);
      // The ratio holds over any stretch, not only on average.
      const window = started.slice(100, 180).filter((q) => q === "a").length;
      assert.ok(Math.abs(window - 60) <= 4, `a got ${window} of 80 slots mid-run, expected 60 ± 4`);
      await eventually(h.clock, () => started.length === 800);
      await h.close();
    });
  }

  test("an empty queue never holds a slot back, whatever its weight", async () => {
    const h = await setup(memory);
    const light = h.conveyor.queue("light");
    const heavy = h.conveyor.queue("heavy");
    await fill(light, 10);
    const gate = deferred();
    const running: string[] = [];
    h.conveyor.worker([light, heavy], { concurrency: 4, order: { weights: { heavy: 9 } } }).handle(echo, async (_, ctx) => {
      running.push(ctx.queue);
      await gate.promise;
    });
    await eventually(h.clock, () => running.length === 4);
    await h.clock.flush();
    assert.deepEqual(running, ["light", "light", "light", "light"]);
    gate.resolve();
    await eventually(h.clock, async () => (await light.counts()).completed === 10);
    await h.close();
  });

  test("a queue back from idle gets its share from then on, not the slots it missed", async () => {
    const h = await setup(memory);
    const a = h.conveyor.queue("a");
    const b = h.conveyor.queue("b");
    await fill(a, 400);
    const started: string[] = [];
    let addedB = false;
    h.conveyor.worker([a, b], { order: { weights: { a: 1, b: 1 } } }).handle(echo, async (_, ctx) => {
      started.push(ctx.queue);
      if (started.length === 200 && !addedB) {
        addedB = true;
        await fill(b, 100);
      }
    });
    await eventually(h.clock, () => started.length >= 300);
    const after = started.slice(210, 290);
    const fromB = after.filter((q) => q === "b").length;
    assert.ok(Math.abs(fromB - 40) <= 3, `b got ${fromB} of 80 slots after coming back, expected 40 ± 3 (not all of them)`);
    await eventually(h.clock, () => started.length === 500);
    await h.close();
  });
});

describe("A worker of several queues: one limit, every duty", () => {
  for (const order of ["strict", { weights: { a: 2, b: 1, c: 1 } }] as const) {
    test(`never runs more than \`concurrency\` handlers in all (${typeof order === "string" ? order : "weights"})`, async () => {
      const h = await setup(memory);
      for (const name of ["a", "b", "c"]) await fill(h.conveyor.queue(name), 30);
      let running = 0;
      let peak = 0;
      h.conveyor.worker(["a", "b", "c"], { concurrency: 5, order }).handle(echo, async ({ n }) => {
        peak = Math.max(peak, ++running);
        await new Promise<void>((resolve) => h.clock.setTimeout(resolve, 10 + (n % 7)));
        running--;
      });
      await eventually(h.clock, async () => {
        await h.clock.advance(10);
        return (await doneCount(h.conveyor.queues)) === 90;
      });
      assert.equal(peak, 5);
      await h.close();
    });
  }

  test("a paused queue (in the store, or on this worker alone) leaves the others served", async () => {
    const h = await setup(memory);
    const first = h.conveyor.queue("first");
    const second = h.conveyor.queue("second");
    const ran: string[] = [];
    const worker = h.conveyor.worker([first, second], { concurrency: 2 }).handle(echo, ({ n }, ctx) => void ran.push(`${ctx.queue}${n}`));
    await first.pause();
    await fill(first, 2);
    await fill(second, 2);
    await eventually(h.clock, () => ran.length === 2);
    await h.clock.advance(1_000);
    assert.deepEqual(ran, ["second0", "second1"]);
    await first.resume();
    await eventually(h.clock, () => ran.length === 4);

    worker.pause("first");
    await fill(first, 1, 10);
    await fill(second, 1, 10);
    await eventually(h.clock, () => ran.length === 5);
    await h.clock.advance(1_000);
    assert.deepEqual(ran.slice(4), ["second10"]);
    worker.resume(first);
    await eventually(h.clock, () => ran.length === 6);
    assert.deepEqual(ran.slice(5), ["first10"]);
    assert.throws(() => worker.pause("third"), (e) => e instanceof RangeError && /"third".*"first", "second"/.test(e.message));
    await h.close();
  });

  test("close waits for the running jobs of every queue", async () => {
    const h = await setup(memory);
    const gate = deferred();
    const started: string[] = [];
    const worker = h.conveyor.worker(["x", "y"], { concurrency: 2 }).handle(echo, async (_, ctx) => {
      started.push(ctx.queue);
      await gate.promise;
    });
    const x = await h.conveyor.queue("x").add(echo, { n: 1 });
    const y = await h.conveyor.queue("y").add(echo, { n: 2 });
    await eventually(h.clock, () => started.length === 2);
    let closed = false;
    const closing = worker.close({ timeoutMs: 10_000 }).then(() => closed = true);
    await h.conveyor.queue("y").add(echo, { n: 3 });
    await h.clock.advance(5_000);
    assert.equal(closed, false);
    gate.resolve();
    await closing;
    assert.equal((await h.conveyor.queue("x").get(x.id))?.state, "completed");
    assert.equal((await h.conveyor.queue("y").get(y.id))?.state, "completed");
    assert.equal((await h.conveyor.queue("y").counts()).waiting, 1, "no new job taken while closing");
    await h.close();
  });

  test("at the close deadline the jobs of every queue go back to waiting, attempts unspent", async () => {
    const h = await setup(memory);
    const reasons: unknown[] = [];
    const worker = h.conveyor.worker(["x", "y"], { concurrency: 2 }).handle(echo, (_, ctx) => {
      ctx.signal.addEventListener("abort", () => reasons.push(ctx.signal.reason));
      return new Promise(() => {});
    });
    const x = await h.conveyor.queue("x").add(echo, { n: 1 });
    const y = await h.conveyor.queue("y").add(echo, { n: 2 });
    await eventually(h.clock, () => worker.activeCount === 2);
    const closing = worker.close({ timeoutMs: 2_000 });
    await h.clock.advance(2_000);
    await closing;
    assert.equal(reasons.length, 2);
    assert.ok(reasons.every((reason) => isConveyorError(reason, "WORKER_CLOSED")));
    for (const [queue, job] of [["x", x], ["y", y]] as const) {
      const stored = await h.conveyor.queue(queue).get(job.id);
      assert.equal(stored?.state, "waiting");
      assert.equal(stored?.attemptsMade, 0);
    }
    await h.close();
  });

  test("retries and delayed jobs of the second queue start on time while the first is busy", async () => {
    const h = await setup(memory);
    const gate = deferred();
    const starts: number[] = [];
    const t0 = h.clock.now();
    h.conveyor.worker(["busy", "second"], { concurrency: 2 })
      .handle(echo, () => gate.promise)
      .handle(flaky, ({ failTimes }, ctx) => {
        starts.push(h.clock.now() - t0);
        if (ctx.attempt <= failTimes) throw new Error(`attempt ${ctx.attempt} fails`);
      });
    await h.conveyor.queue("busy").add(echo, { n: 1 });
    const second = h.conveyor.queue("second");
    const job = await second.add(flaky, { failTimes: 2 });
    await second.add(flaky, { failTimes: 0 }, { delayMs: 2_500 });
    await eventually(h.clock, () => starts.length === 1);
    await h.clock.advance(1_000);
    await eventually(h.clock, () => starts.length === 2);
    await h.clock.advance(1_000);
    await eventually(h.clock, async () => (await second.get(job.id))?.state === "completed");
    await h.clock.advance(500);
    await eventually(h.clock, () => starts.length === 4);
    assert.deepEqual(starts, [0, 1_000, 2_000, 2_500]);
    gate.resolve();
    await h.close();
  });

  test("leases are renewed in every queue, and each queue's stalled jobs are taken back", async () => {
    const h = await setup(memory);
    const gate = deferred();
    let calls = 0;
    const ran: number[] = [];
    h.conveyor.worker(["one", "two"], { concurrency: 2, leaseMs: 1_000, stallCheckMs: 500 })
      .handle(echo, async ({ n }) => {
        ran.push(n);
        if (n === 1) {
          calls++;
          await gate.promise;
        }
      });
    const stalled: unknown[] = [];
    const two = h.conveyor.queue("two");
    two.events.addEventListener("stalled", (e) => stalled.push(e.data));
    await two.events.ready();
    const long = await two.add(echo, { n: 1 });
    await eventually(h.clock, () => calls === 1);
    // A job of the first queue claimed by a worker that then vanished.
    const lost = await h.conveyor.queue("one").add(echo, { n: 2 });
    await h.store.claim("one", { workerId: "ghost", limit: 1, leaseMs: 1_000, now: h.clock.now() });
    for (let i = 0; i < 20; i++) await h.clock.advance(250);
    await eventually(h.clock, async () => (await h.conveyor.queue("one").get(lost.id))?.state === "completed");
    gate.resolve();
    await eventually(h.clock, async () => (await two.get(long.id))?.state === "completed");
    assert.equal(calls, 1, "the long job in the second queue kept its lease");
    assert.deepEqual(stalled, []);
    assert.deepEqual(ran, [1, 2]);
    await h.close();
  });

  test("a queue-wide rate limit holds back each queue on its own; the worker's other queue goes on", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ store: new MemoryStore(), clock });
    const limiter = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 1, windowMs: 1_000 }, clock });
    const started: string[] = [];
    const t0 = clock.now();
    conveyor.worker(["a", "b"], { concurrency: 4, rateLimits: [{ limiter }] })
      .handle(echo, ({ n }, ctx) => void started.push(`${ctx.queue}${n}@${clock.now() - t0}`));
    await fill(conveyor.queue("a"), 2);
    await fill(conveyor.queue("b"), 2);
    await eventually(clock, () => started.length === 2);
    await clock.advance(1_000);
    await eventually(clock, () => started.length === 4);
    assert.deepEqual(started.sort(), ["a0@0", "a1@1000", "b0@0", "b1@1000"]);
    await conveyor.close();
  });

  test("handlers, events and errors say which queue", async () => {
    const h = await setup(memory);
    const seen: string[] = [];
    const worker = h.conveyor.worker(["p", "q"], { id: "w1", errorRetryMs: 1_000 })
      .handle(echo, (_, ctx) => void seen.push(`${ctx.queue}/${ctx.job.queue}`));
    const active: string[] = [];
    for (const name of ["p", "q"]) {
      h.conveyor.queue(name).events.addEventListener("active", (e) => active.push(`${e.data.queue}:${e.data.workerId}`));
      await h.conveyor.queue(name).events.ready();
    }
    const realClaim = h.store.claim.bind(h.store);
    let failures = 1;
    h.store.claim = (queue, request) => queue === "q" && failures-- > 0 ? Promise.reject(new Error("connection reset")) : realClaim(queue, request);
    const errors: WorkerErrorEvent[] = [];
    worker.addEventListener("error", (e) => errors.push(e));
    await h.conveyor.queue("q").add(echo, { n: 1 });
    await h.conveyor.queue("p").add(echo, { n: 2 });
    await eventually(h.clock, () => seen.length === 1);
    await h.clock.advance(1_000);
    await eventually(h.clock, () => seen.length === 2);
    assert.deepEqual(seen, ["p/p", "q/q"]);
    assert.deepEqual(active, ["p:w1", "q:w1"]);
    assert.deepEqual(errors.map((e) => e.queue), ["q"]);
    assert.match(String(errors[0]!.error), /connection reset/);
    await h.close();
  });

  test("a worker of one queue has it as `queue` and `queues`; handle() registers in every queue", async () => {
    const conveyor = createConveyor();
    const one = conveyor.worker("solo", { autostart: false });
    assert.equal(one.queue, conveyor.queue("solo"));
    assert.deepEqual(one.queues, [conveyor.queue("solo")]);
    const many = new Worker([conveyor.queue("m1"), conveyor.queue("m2")], { autostart: false }).handle(echo, () => {});
    assert.equal(many.queue.name, "m1");
    assert.deepEqual(many.queues.map((q) => q.name), ["m1", "m2"]);
    assert.ok(conveyor.queue("m2").definitions.has("echo"));
    await many.close();
    await conveyor.close();
  });
});

describe("A worker of several queues: bad arguments", () => {
  test("say what was wrong and what was expected", async () => {
    const conveyor = createConveyor();
    const other = createConveyor();
    assert.throws(() => conveyor.worker([]), (e) => e instanceof TypeError && /at least one queue/.test(e.message));
    assert.throws(() => conveyor.worker(["a", "b", "a"]), (e) => e instanceof TypeError && /each queue once \("a" is listed twice\)/.test(e.message));
    assert.throws(() => conveyor.worker(["a", 42 as never]), (e) => e instanceof TypeError && /worker queues: 1 wrong type: expected Queue/.test(e.message));
    assert.throws(() => conveyor.worker(["a", other.queue("b")]), (e) => e instanceof TypeError && /one store and clock/.test(e.message));
    assert.throws(() => conveyor.worker(["a", "b"], { order: { weights: { a: 2, c: 1 } } }), (e) => e instanceof RangeError && /"c".*expected one of "a", "b"/.test(e.message));
    for (const weight of [0, -1, 1.5, Infinity]) {
      assert.throws(() => conveyor.worker(["a", "b"], { order: { weights: { a: weight } } }), (e) => e instanceof TypeError && /weights\.a .*a positive integer/.test(e.message));
    }
    assert.throws(() => conveyor.worker(["a", "b"], { order: { weights: { a: "3" } } as never }), (e) => e instanceof TypeError && /weights\.a wrong type: expected number/.test(e.message));
    assert.throws(() => conveyor.worker(["a", "b"], { order: "fair" as never }), (e) => e instanceof TypeError && /order wrong type: expected "strict" or \{ weights \}/.test(e.message));
    assert.throws(() => new Worker([conveyor.queue("a"), "b" as never]), TypeError);
    await other.close();
    await conveyor.close();
  });
});

for (const backend of backends) {
  describe(`A worker of several queues (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test("runs a job in each queue, first queue first, and settles both in the store", async () => {
      const h = await setup(backend);
      const urgent = h.conveyor.queue("urgent");
      const normal = h.conveyor.queue("normal");
      const ran: string[] = [];
      const worker = h.conveyor.worker([urgent, normal], { autostart: false }).handle(echo, ({ n }, ctx) => {
        ran.push(`${ctx.queue}${n}`);
        return n * 2;
      });
      const b = await normal.add(echo, { n: 2 });
      const a = await urgent.add(echo, { n: 1 });
      await worker.drain();
      assert.deepEqual(ran, ["urgent1", "normal2"]);
      assert.equal((await urgent.get(a.id))?.result, 2);
      assert.equal((await normal.get(b.id))?.result, 4);
      worker.start();
      await normal.add(echo, { n: 3 });
      await eventually(h.clock, async () => (await normal.counts()).completed === 2);
      await h.close();
    });

    test("a paused first queue leaves the second served, and the second's retries come on time", async () => {
      const h = await setup(backend);
      const first = h.conveyor.queue("first");
      const second = h.conveyor.queue("second");
      const starts: string[] = [];
      const t0 = h.clock.now();
      h.conveyor.worker([first, second], { concurrency: 2 }).handle(flaky, ({ failTimes }, ctx) => {
        starts.push(`${ctx.queue}@${h.clock.now() - t0}`);
        if (ctx.attempt <= failTimes) throw new Error(`attempt ${ctx.attempt} fails`);
      });
      await first.pause();
      await first.add(flaky, { failTimes: 0 });
      const job = await second.add(flaky, { failTimes: 1 });
      await eventually(h.clock, () => starts.length === 1);
      await h.clock.advance(1_000);
      await eventually(h.clock, async () => (await second.get(job.id))?.state === "completed");
      assert.deepEqual(starts, ["second@0", "second@1000"]);
      await first.resume();
      await eventually(h.clock, () => starts.length === 3);
      assert.equal(starts[2], "first@1000");
      await h.close();
    });
  });
}

async function doneCount(queues: ReadonlyMap<string, Queue>): Promise<number> {
  let done = 0;
  for (const queue of queues.values()) done += (await queue.counts()).completed;
  return done;
}
