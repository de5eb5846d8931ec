import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { type ConveyorEventData, defineJob, isConveyorError, UnrecoverableError } from "../mod.ts";
import { backends } from "./support/backends.ts";
import { deferred, eventually, setup } from "./support/harness.ts";
import { echo, flaky } from "./support/jobs.ts";
import { newJob } from "./support/store-conformance.ts";

function record(events: ConveyorEventData[]) {
  return (e: Event) => events.push((e as unknown as { data: ConveyorEventData }).data);
}

for (const backend of backends) {
  describe(`Worker (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());
    test("runs handlers with the parsed payload and stores the result", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const seen: unknown[] = [];
      h.conveyor.worker("q").handle(echo, (payload, ctx) => {
        seen.push([payload, ctx.attempt, ctx.name, ctx.queue, ctx.id]);
        return payload.n * 2;
      });
      const job = await queue.add(echo, { n: 21 });
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
      const done = await queue.get(job.id);
      assert.equal(done?.result, 42);
      assert.equal(done?.attemptsMade, 1);
      assert.deepEqual(seen, [[{ n: 21 }, 1, "echo", "q", job.id]]);
      await h.close();
    });

    test("drain() runs every due job, then resolves, leaving delayed ones (request-scoped runtimes)", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const ran: number[] = [];
      const worker = h.conveyor.worker("q", { autostart: false, concurrency: 2 }).handle(echo, async ({ n }) => {
        await Promise.resolve();
        ran.push(n);
      });
      await queue.addBulk(Array.from({ length: 7 }, (_, n) => ({ job: echo, payload: { n } })));
      const later = await queue.add(echo, { n: 99 }, { delayMs: 60_000 });
      await worker.drain();
      assert.deepEqual(ran.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6]);
      assert.equal(worker.activeCount, 0);
      assert.equal((await queue.counts()).completed, 7);
      assert.equal((await queue.get(later.id))?.state, "delayed");
      await queue.add(echo, { n: 7 });
      await h.conveyor.drain();
      assert.ok(ran.includes(7), "a second drain takes what came since");
      await h.close();
    });

    test("starts new jobs at once, without polling or time passing", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const started: number[] = [];
      h.conveyor.worker("q").handle(echo, () => void started.push(h.clock.now()));
      await h.clock.flush();
      await queue.add(echo, { n: 1 });
      await eventually(h.clock, () => started.length === 1);
      assert.equal(started[0], h.clock.now());
      await h.close();
    });

    test("runs at most `concurrency` handlers at once", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const gate = deferred();
      let running = 0;
      let peak = 0;
      const worker = h.conveyor.worker("q", { concurrency: 3 }).handle(echo, async () => {
        peak = Math.max(peak, ++running);
        await gate.promise;
        running--;
      });
      await queue.addBulk(Array.from({ length: 10 }, (_, n) => ({ job: echo, payload: { n } })));
      await eventually(h.clock, () => running === 3);
      await h.clock.flush();
      assert.equal(worker.activeCount, 3);
      assert.equal((await queue.counts()).active, 3);
      gate.resolve();
      await eventually(h.clock, async () => (await queue.counts()).completed === 10);
      assert.equal(peak, 3);
      await h.close();
    });

    test("takes jobs by priority, then in order of arrival", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const order: number[] = [];
      await queue.add(echo, { n: 1 }, { priority: "low" });
      await queue.add(echo, { n: 2 });
      await queue.add(echo, { n: 3 }, { priority: "critical" });
      await queue.add(echo, { n: 4 });
      await queue.add(echo, { n: 5 }, { priority: 0 });
      h.conveyor.worker("q").handle(echo, ({ n }) => void order.push(n));
      await eventually(h.clock, () => order.length === 5);
      assert.deepEqual(order, [3, 5, 2, 4, 1]);
      await h.close();
    });

    test("starts a delayed job exactly when due, from a timer", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const started: number[] = [];
      h.conveyor.worker("q").handle(echo, () => void started.push(h.clock.now()));
      const due = h.clock.now() + 1_234;
      await queue.add(echo, { n: 1 }, { delayMs: 1_234 });
      await h.clock.advance(1_233);
      assert.deepEqual(started, []);
      await h.clock.advance(1);
      await eventually(h.clock, () => started.length === 1);
      assert.deepEqual(started, [due]);
      // A sooner job added later still wins the timer.
      await queue.add(echo, { n: 2 }, { delayMs: 5_000 });
      await queue.add(echo, { n: 3 }, { delayMs: 100 });
      await h.clock.advance(100);
      await eventually(h.clock, () => started.length === 2);
      assert.equal(started[1], due + 100);
      await h.close();
    });

    test("retries with the job's backoff, then succeeds", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const attempts: number[] = [];
      const events: ConveyorEventData[] = [];
      queue.events.addEventListener("retrying", record(events));
      await queue.events.ready();
      h.conveyor.worker("q").handle(flaky, ({ failTimes }, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt <= failTimes) throw new Error(`attempt ${ctx.attempt} failed`);
        return "ok";
      });
      const job = await queue.add(flaky, { failTimes: 2 });
      await eventually(h.clock, () => attempts.length === 1);
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "delayed");
      await h.clock.advance(999);
      assert.equal(attempts.length, 1);
      await h.clock.advance(1);
      await eventually(h.clock, () => attempts.length === 2);
      await h.clock.advance(1_000);
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
      const done = await queue.get(job.id);
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(done?.attemptsMade, 3);
      assert.equal(done?.lastError?.message, "attempt 2 failed");
      assert.deepEqual(events.map((e) => e.type === "retrying" && e.attempt), [2, 3]);
      await h.close();
    });

    test("exponential backoff doubles up to its cap; a definition's function decides its own", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const delays: number[] = [];
      queue.events.addEventListener("retrying", (e) => delays.push(e.data.retryAt - e.data.at));
      await queue.events.ready();
      const always = defineJob("always", v.object({}), { backoff: (attempt) => attempt * 7 });
      h.conveyor.worker("q").handle(echo, () => {
        throw new Error("no");
      }).handle(always, () => {
        throw new Error("no");
      });
      await queue.add(echo, { n: 1 }, { attempts: 5, backoff: { type: "exponential", delayMs: 100, maxDelayMs: 300 } });
      for (let i = 0; i < 100 && delays.length < 4; i++) await h.clock.advance(50);
      await eventually(h.clock, () => delays.length === 4);
      assert.deepEqual(delays, [100, 200, 300, 300]);
      delays.length = 0;
      await queue.add(always, {}, { attempts: 3 });
      for (let i = 0; i < 100 && delays.length < 2; i++) await h.clock.advance(5);
      await eventually(h.clock, () => delays.length === 2);
      assert.deepEqual(delays, [7, 14]);
      await h.close();
    });

    test("after the last attempt the job goes to the dead-letter store with its error", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const dead: ConveyorEventData[] = [];
      queue.events.addEventListener("dead", record(dead));
      await queue.events.ready();
      h.conveyor.worker("q").handle(echo, () => {
        throw new TypeError("bad thing");
      });
      const job = await queue.add(echo, { n: 1 }, { attempts: 2 });
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "dead");
      const stored = await queue.get(job.id);
      assert.equal(stored?.dead?.reason, "attempts-exhausted");
      assert.equal(stored?.dead?.attempts, 2);
      assert.equal(stored?.dead?.queue, "q");
      assert.equal(stored?.dead?.at, h.clock.now());
      assert.equal(stored?.dead?.error?.name, "TypeError");
      assert.equal(stored?.dead?.error?.message, "bad thing");
      assert.match(stored?.dead?.error?.stack ?? "", /bad thing/);
      await eventually(h.clock, () => dead.length > 0); // events follow the state change
      assert.equal(dead.length, 1);
      assert.deepEqual((await queue.list("dead")).map((j) => j.id), [job.id]);
      await h.close();
    });

    test("UnrecoverableError skips the remaining attempts", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      let calls = 0;
      h.conveyor.worker("q").handle(echo, () => {
        calls++;
        throw new UnrecoverableError("card declined");
      });
      const job = await queue.add(echo, { n: 1 }, { attempts: 5 });
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "dead");
      assert.equal(calls, 1);
      assert.equal((await queue.get(job.id))?.dead?.reason, "unrecoverable");
      await h.close();
    });

    test("a failure is final as `failed` when dead-lettering is off", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      h.conveyor.worker("q").handle(echo, () => Promise.reject(new Error("nope")));
      const job = await queue.add(echo, { n: 1 }, { deadLetter: false });
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "failed");
      await h.close();
    });

    test("a dead job retried by hand runs again with fresh attempts", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      let fail = true;
      h.conveyor.worker("q").handle(echo, () => {
        if (fail) throw new Error("down");
        return "up";
      });
      const job = await queue.add(echo, { n: 1 });
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "dead");
      fail = false;
      await queue.retry(job.id);
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
      assert.equal((await queue.get(job.id))?.result, "up");
      await h.close();
    });

    test("a handler that hangs past its timeout is aborted and the attempt fails with JOB_TIMEOUT", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const reasons: unknown[] = [];
      let calls = 0;
      const worker = h.conveyor.worker("q").handle(echo, (_, ctx) => {
        calls++;
        ctx.signal.addEventListener("abort", () => reasons.push(ctx.signal.reason));
        return new Promise(() => {}); // never settles, and ignores the signal
      });
      const job = await queue.add(echo, { n: 1 }, { timeoutMs: 5_000, attempts: 2 });
      await eventually(h.clock, () => calls === 1);
      await h.clock.advance(4_999);
      assert.equal(reasons.length, 0);
      await h.clock.advance(1);
      await eventually(h.clock, () => calls === 2);
      assert.ok(isConveyorError(reasons[0], "JOB_TIMEOUT"));
      await h.clock.advance(5_000);
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "dead");
      const stored = await queue.get(job.id);
      assert.equal(stored?.lastError?.code, "JOB_TIMEOUT");
      assert.match(stored?.lastError?.message ?? "", /timed out after 5000 ms/);
      // The store's answer to the last outcome frees the slot; a slower store answers after the state is visible.
      await eventually(h.clock, () => worker.activeCount === 0);
      await h.close();
    });

    test("cancelling a waiting job means it never runs; an active one has its signal aborted", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const started: number[] = [];
      const release = deferred<string>();
      let reason: unknown;
      const worker = h.conveyor.worker("q", { autostart: false }).handle(echo, async ({ n }, ctx) => {
        started.push(n);
        ctx.signal.addEventListener("abort", () => reason = ctx.signal.reason);
        return await release.promise;
      });
      const first = await queue.add(echo, { n: 1 });
      const second = await queue.add(echo, { n: 2 });
      await queue.cancel(second.id);
      worker.start();
      await worker.ready();
      await eventually(h.clock, () => started.length === 1);
      assert.equal(await queue.cancel(first.id), "active");
      await eventually(h.clock, () => reason !== undefined);
      assert.ok(isConveyorError(reason, "JOB_CANCELLED"));
      release.resolve("finished anyway");
      await eventually(h.clock, () => worker.activeCount === 0);
      const stored = await queue.get(first.id);
      assert.equal(stored?.state, "cancelled");
      assert.equal(stored?.result, undefined, "a cancelled job's late result is dropped");
      assert.deepEqual(started, [1]);
      await h.close();
    });

    test("close waits for running handlers, and takes no new jobs", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const gate = deferred();
      const started: number[] = [];
      const worker = h.conveyor.worker("q").handle(echo, async ({ n }) => {
        started.push(n);
        await gate.promise;
      });
      const job = await queue.add(echo, { n: 1 });
      await eventually(h.clock, () => started.length === 1);
      let closed = false;
      const closing = worker.close({ timeoutMs: 10_000 }).then(() => closed = true);
      await queue.add(echo, { n: 2 });
      await h.clock.advance(5_000);
      assert.equal(closed, false);
      gate.resolve();
      await closing;
      assert.equal((await queue.get(job.id))?.state, "completed");
      assert.deepEqual(started, [1]);
      assert.equal((await queue.counts()).waiting, 1);
      await h.close();
    });

    test("close gives jobs still running at its deadline back to the queue, attempt unspent", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      let reason: unknown;
      const worker = h.conveyor.worker("q").handle(echo, (_, ctx) => {
        ctx.signal.addEventListener("abort", () => reason = ctx.signal.reason);
        return new Promise(() => {});
      });
      const job = await queue.add(echo, { n: 1 });
      await eventually(h.clock, () => worker.activeCount === 1);
      const closing = worker.close({ timeoutMs: 2_000 });
      await h.clock.advance(2_000);
      await closing;
      assert.ok(isConveyorError(reason, "WORKER_CLOSED"));
      const stored = await queue.get(job.id);
      assert.equal(stored?.state, "waiting");
      assert.equal(stored?.attemptsMade, 0);
      const ran: number[] = [];
      h.conveyor.worker("q").handle(echo, ({ n }) => void ran.push(n));
      await eventually(h.clock, () => ran.length === 1);
      await h.close();
    });

    test("a handler that throws synchronously or rejects with a non-Error does not stop the worker", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const sync = defineJob("sync-throw", v.object({}));
      const odd = defineJob("odd-reject", v.object({}));
      h.conveyor.worker("q").handle(sync, () => {
        throw new Error("sync");
      }).handle(odd, () => Promise.reject({ weird: true })).handle(echo, ({ n }) => n);
      const a = await queue.add(sync, {});
      const b = await queue.add(odd, {});
      const c = await queue.add(echo, { n: 3 });
      await eventually(h.clock, async () => (await queue.get(c.id))?.state === "completed");
      assert.equal((await queue.get(a.id))?.lastError?.message, "sync");
      assert.match((await queue.get(b.id))?.lastError?.message ?? "", /weird/);
      await h.close();
    });

    test("a job nobody handles fails with UNKNOWN_JOB", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      h.conveyor.worker("q").handle(echo, () => 1);
      const orphan = defineJob("orphan", v.object({}));
      const job = await queue.add(orphan, {});
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "dead");
      assert.equal((await queue.get(job.id))?.lastError?.code, "UNKNOWN_JOB");
      await h.close();
    });

    test("a payload that no longer matches its schema fails for good with VALIDATION_FAILED", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      let calls = 0;
      h.conveyor.worker("q").handle(echo, () => calls++);
      const [added] = await h.store.enqueue("q", { jobs: [newJob({ name: "echo", payload: { n: "not a number" }, maxAttempts: 3, createdAt: h.clock.now(), runAt: h.clock.now() })], now: h.clock.now() });
      const id = added!.job.id;
      await eventually(h.clock, async () => (await queue.get(id))?.state === "dead");
      const stored = await queue.get(id);
      assert.equal(stored?.lastError?.code, "VALIDATION_FAILED");
      assert.match(stored?.lastError?.message ?? "", /no longer matches/);
      assert.equal(stored?.dead?.reason, "unrecoverable");
      assert.equal(calls, 0);
      await h.close();
    });

    test("progress and log lines reach the job and the event stream", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const progress: unknown[] = [];
      queue.events.addEventListener("progress", (e) => progress.push(e.data.progress));
      await queue.events.ready();
      h.conveyor.worker("q").handle(echo, async (_, ctx) => {
        await ctx.progress(25);
        await ctx.log("halfway");
        await ctx.progress({ done: 2, of: 2 });
      });
      const job = await queue.add(echo, { n: 1 });
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
      const stored = await queue.get(job.id);
      assert.deepEqual(stored?.progress, { done: 2, of: 2 });
      assert.deepEqual(stored?.logs, ["halfway"]);
      assert.deepEqual(progress, [25, { done: 2, of: 2 }]);
      await h.close();
    });

    test("emits the lifecycle in order, on the EventTarget and as a stream, and drained once", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const stream = queue.events.stream();
      const reader = stream.getReader();
      const types: string[] = [];
      for (const type of ["enqueued", "active", "completed", "drained"] as const) {
        queue.events.addEventListener(type, (e) => types.push(e.type));
      }
      h.conveyor.worker("q").handle(echo, () => 1);
      await queue.events.ready();
      await queue.add(echo, { n: 1 });
      await eventually(h.clock, () => types.includes("drained"));
      assert.deepEqual(types, ["enqueued", "active", "completed", "drained"]);
      const streamed: string[] = [];
      for (let i = 0; i < 4; i++) streamed.push((await reader.read()).value!.type);
      assert.deepEqual(streamed, types);
      await reader.cancel();
      await h.close();
    });

    test("pausing the queue stops every worker; resuming wakes them", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const ran: number[] = [];
      h.conveyor.worker("q").handle(echo, ({ n }) => void ran.push(n));
      await queue.pause();
      await queue.add(echo, { n: 1 });
      await h.clock.advance(10_000);
      assert.deepEqual(ran, []);
      await queue.resume();
      await eventually(h.clock, () => ran.length === 1);
      await h.close();
    });

    test("pausing one worker leaves the queue to the others", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const byWorker: string[] = [];
      const a = h.conveyor.worker("q", { id: "a" }).handle(echo, () => void byWorker.push("a"));
      h.conveyor.worker("q", { id: "b", autostart: false }).handle(echo, () => void byWorker.push("b"));
      await h.clock.flush();
      a.pause();
      await queue.add(echo, { n: 1 });
      await h.clock.advance(1_000);
      assert.deepEqual(byWorker, []);
      a.resume();
      await eventually(h.clock, () => byWorker.length === 1);
      assert.deepEqual(byWorker, ["a"]);
      await h.close();
    });

    test("several workers on one queue run each job once", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const runs = new Map<number, number>();
      for (let w = 0; w < 3; w++) {
        h.conveyor.worker("q", { concurrency: 4 }).handle(echo, async ({ n }) => {
          runs.set(n, (runs.get(n) ?? 0) + 1);
          await Promise.resolve();
        });
      }
      await queue.addBulk(Array.from({ length: 200 }, (_, n) => ({ job: echo, payload: { n } })));
      await eventually(h.clock, async () => (await queue.counts()).completed === 200);
      assert.equal(runs.size, 200);
      assert.ok([...runs.values()].every((count) => count === 1));
      await h.close();
    });

    test("leases are renewed while a long handler runs, so it is not taken for stalled", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const gate = deferred();
      let calls = 0;
      h.conveyor.worker("q", { leaseMs: 1_000, stallCheckMs: 500 }).handle(echo, async () => {
        calls++;
        await gate.promise;
      });
      const stalled: unknown[] = [];
      queue.events.addEventListener("stalled", (e) => stalled.push(e.data));
      await queue.events.ready();
      const job = await queue.add(echo, { n: 1 });
      await eventually(h.clock, () => calls === 1);
      for (let i = 0; i < 20; i++) await h.clock.advance(250);
      gate.resolve();
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
      assert.equal(calls, 1);
      assert.deepEqual(stalled, []);
      await h.close();
    });

    test("a job whose worker vanished is taken back after its lease and run again", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const job = await queue.add(echo, { n: 1 });
      // A worker that claims and then disappears without a trace.
      const { jobs } = await h.store.claim("q", { workerId: "ghost", limit: 1, leaseMs: 1_000, now: h.clock.now() });
      assert.equal(jobs[0]?.id, job.id);
      const stalled: ConveyorEventData[] = [];
      queue.events.addEventListener("stalled", record(stalled));
      await queue.events.ready();
      const ran: number[] = [];
      h.conveyor.worker("q", { stallCheckMs: 500 }).handle(echo, ({ n }) => void ran.push(n));
      await h.clock.advance(999);
      assert.deepEqual(ran, []);
      await h.clock.advance(1);
      await eventually(h.clock, () => ran.length === 1);
      assert.equal(stalled.length, 1);
      assert.equal((await queue.get(job.id))?.stalls, 1);
      await h.close();
    });

    test("store failures are reported and retried; the worker carries on", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const realClaim = h.store.claim.bind(h.store);
      let failures = 2;
      h.store.claim = (q, request) => failures-- > 0 ? Promise.reject(new Error("connection reset")) : realClaim(q, request);
      const errors: unknown[] = [];
      const ran: number[] = [];
      const worker = h.conveyor.worker("q", { errorRetryMs: 1_000 }).handle(echo, ({ n }) => void ran.push(n));
      worker.addEventListener("error", (e) => errors.push(e.error));
      await queue.add(echo, { n: 1 });
      await h.clock.advance(1_000);
      await h.clock.advance(1_000);
      await eventually(h.clock, () => ran.length === 1);
      assert.equal(errors.length, 2);
      assert.match(String(errors[0]), /connection reset/);
      await h.close();
    });

    test("a result the store cannot take still leaves the job recoverable, not lost", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const realFinish = h.store.finish.bind(h.store);
      let broken = true;
      h.store.finish = (...args) => broken ? Promise.reject(new Error("disk full")) : realFinish(...args);
      let calls = 0;
      const worker = h.conveyor.worker("q", { leaseMs: 1_000, stallCheckMs: 1_000 }).handle(echo, () => void calls++);
      worker.addEventListener("error", () => {});
      const job = await queue.add(echo, { n: 1 });
      await eventually(h.clock, () => calls === 1);
      broken = false;
      await h.clock.advance(3_000);
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
      assert.equal(calls, 2, "run again rather than lost");
      await h.close();
    });
  });
}

describe("Unsafe setups", () => {
  test("a worker refuses an eventually consistent store, saying what to use", async () => {
    const { createConveyor, MemoryStore } = await import("../mod.ts");
    const store = new MemoryStore();
    Object.defineProperty(store, "capabilities", { value: { sharedAcrossProcesses: true, durable: true, consistent: false } });
    const conveyor = createConveyor({ store });
    assert.throws(() => conveyor.worker("q"), (e) => isConveyorError(e, "UNSAFE_SETUP") && /RedisStore or DenoKvStore/.test(e.message));
    await conveyor.queue("q").add(echo, { n: 1 }); // producing is still fine
    await conveyor.close();
  });
});

describe("Worker options", () => {
  test("are validated", async () => {
    const { createConveyor } = await import("../mod.ts");
    const conveyor = createConveyor();
    assert.throws(() => conveyor.worker("q", { concurrency: 0 }), /concurrency/);
    assert.throws(() => conveyor.worker("q", { leaseMs: 1 }), /leaseMs/);
    assert.throws(() => conveyor.worker("q", { concurency: 2 } as never), /concurency/);
    assert.throws(() => conveyor.worker("q").handle(echo, "nope" as never), TypeError);
    await conveyor.close();
  });
});

