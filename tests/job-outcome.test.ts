// queue.finished(): a producer awaits a job's outcome, from events or from the record.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { defineJob, isConveyorError, type QueueStore } from "../mod.ts";
import { backends } from "./support/backends.ts";
import { eventually, setup } from "./support/harness.ts";
import { echo } from "./support/jobs.ts";

const failing = defineJob("failing", v.object({}), { attempts: 2, backoff: { type: "fixed", delayMs: 1_000 } });
const doomed = defineJob("doomed", v.object({}), { deadLetter: true });

const rejectsWith = (code: string, message?: RegExp) => (error: unknown) => {
  assert.ok(isConveyorError(error), `expected a ConveyorError, got ${error}`);
  assert.equal(error.code, code);
  if (message) assert.match(error.message, message);
  return true;
};

/** Captures console.warn lines while `run` runs. */
async function warnings(run: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    await run();
  } finally {
    console.warn = original;
  }
  return lines;
}

for (const backend of backends) {
  describe(`queue.finished (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test("resolves with the result once the job completes, even when retention deletes it", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const job = await queue.add(echo, { n: 21 }, { removeOnComplete: true });
      const outcome = queue.finished(job);
      await queue.events.ready(); // listening before the job can complete: retention leaves no record to read
      h.conveyor.worker(queue).handle(echo, ({ n }) => ({ doubled: n * 2 }));
      assert.deepEqual(await outcome, { doubled: 42 });
      await eventually(h.clock, async () => (await queue.get(job.id)) === null);
      await h.close();
    });

    test("a job finished before the call settles from its record", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const worker = h.conveyor.worker(queue).handle(echo, ({ n }) => n + 1);
      const job = await queue.add(echo, { n: 1 });
      await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
      await worker.close();
      assert.equal(await queue.finished(job.id), 2);
      await h.close();
    });

    test("rejects with JOB_FAILED and the last error once every attempt failed", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      queue.events.addEventListener("failed", () => {}); // watched: no console line
      h.conveyor.worker(queue).handle(failing, () => {
        throw new Error("smtp refused");
      });
      const job = await queue.add(failing, {});
      const outcome = queue.finished(job);
      outcome.catch(() => {});
      await eventually(h.clock, async () => (await queue.get(job.id))?.attemptsMade === 1);
      await h.clock.advance(1_000);
      await assert.rejects(outcome, (error: unknown) => {
        rejectsWith("JOB_FAILED", /failed for good \(Error: smtp refused\)/)(error);
        assert.equal(((error as Error).cause as { message: string }).message, "smtp refused");
        return true;
      });
      await h.close();
    });

    // Awaiting `finished` counts as listening: its promise rejects with the failure.
    test("a dead-lettered job nobody listens for logs one line; a watched one logs none", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      h.conveyor.worker(queue).handle(doomed, () => {
        throw new TypeError("bad input");
      });
      const lines = await warnings(async () => {
        const job = await queue.add(doomed, {});
        await eventually(h.clock, async () => (await queue.get(job.id))?.state === "dead");
        await eventually(h.clock, () => false, 200).catch(() => {}); // let the worker's note land
      });
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /job \S+ \(doomed\) on queue "q" failed for good and is now dead: TypeError: bad input/);
      queue.events.addEventListener("dead", () => {});
      const quiet = await warnings(async () => {
        await assert.rejects(queue.finished(await queue.add(doomed, {})), rejectsWith("JOB_FAILED"));
        await eventually(h.clock, () => false, 200).catch(() => {});
      });
      assert.deepEqual(quiet, []);
      await h.close();
    });

    test("rejects with JOB_CANCELLED, JOB_NOT_FOUND, WAIT_TIMEOUT or the signal's reason", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const waiting = await queue.add(echo, { n: 1 });
      const cancelled = queue.finished(waiting);
      cancelled.catch(() => {});
      await queue.events.ready();
      await queue.cancel(waiting.id);
      await assert.rejects(cancelled, rejectsWith("JOB_CANCELLED"));

      await assert.rejects(queue.finished("no-such-job"), rejectsWith("JOB_NOT_FOUND"));

      const slow = await queue.add(echo, { n: 2 });
      const timed = queue.finished(slow, { timeoutMs: 10_000 });
      timed.catch(() => {});
      await h.clock.advance(10_000);
      await assert.rejects(timed, rejectsWith("WAIT_TIMEOUT", /within 10000 ms/));

      const controller = new AbortController();
      const aborted = queue.finished(slow, { signal: controller.signal });
      controller.abort(new Error("gave up"));
      await assert.rejects(aborted, /gave up/);
      await h.close();
    });

    test("bad arguments are refused before anything waits", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      assert.throws(() => queue.finished(42 as never), TypeError);
      assert.throws(() => queue.finished("x", { timeoutMs: -1 }), /Invalid finished\(\) options: timeoutMs/);
      assert.throws(() => queue.finished("x", { recheck: 5 } as never), /recheck/);
      assert.equal(h.clock.pendingTimers, 0);
      await h.close();
    });
  });
}

describe("queue.finished when events are lost", () => {
  test("reads the job again every recheckMs and settles from the record", async () => {
    const memory = backends.find((b) => b.name === "memory")!;
    const h = await setup(memory);
    // A store whose event subscriptions never deliver (a dropped pub/sub connection).
    const deaf: QueueStore = new Proxy(h.store, {
      get: (target, property) => {
        if (property === "subscribe") return () => ({ ready: Promise.resolve(), close() {} });
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { createConveyor } = await import("../mod.ts");
    const producer = createConveyor({ store: deaf, clock: h.clock }).queue("q");
    const queue = h.conveyor.queue("q");
    const job = await queue.add(echo, { n: 4 });
    const outcome = producer.finished(job, { recheckMs: 1_000 });
    h.conveyor.worker(queue).handle(echo, ({ n }) => n * 10);
    await eventually(h.clock, async () => (await queue.get(job.id))?.state === "completed");
    await h.clock.advance(1_000);
    assert.equal(await outcome, 40);
    await h.close();
  });
});
