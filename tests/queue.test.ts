import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { ConveyorError, defineJob, isConveyorError, type JobOptions } from "../mod.ts";
import { backends } from "./support/backends.ts";
import { setup } from "./support/harness.ts";
import { echo, email } from "./support/jobs.ts";

const validationError = (check?: (e: ConveyorError) => void) => (error: unknown) => {
  assert.ok(isConveyorError(error, "VALIDATION_FAILED"), `expected VALIDATION_FAILED, got ${error}`);
  check?.(error);
  return true;
};

for (const backend of backends) {
  describe(`Queue (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());
    test("add stores a waiting job with defaults", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const job = await queue.add(echo, { n: 1 });
      assert.equal(job.state, "waiting");
      assert.equal(job.duplicate, false);
      assert.equal(job.name, "echo");
      assert.equal(job.queue, "q");
      assert.deepEqual(job.payload, { n: 1 });
      assert.equal(job.priority, 200);
      assert.equal(job.maxAttempts, 1);
      assert.equal(job.createdAt, h.clock.now());
      const { duplicate: _, ...stored } = job;
      assert.deepEqual(await queue.get(job.id), stored);
      await h.close();
    });

    test("add rejects a payload that does not match the schema, without echoing it", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      await assert.rejects(
        queue.add(email, { to: "not-an-email", secret: "hunter2" } as never),
        validationError((e) => {
          assert.deepEqual(e.issues?.map((i) => i.path), ["to"]);
          assert.match(e.message, /payload for job "email"/);
          assert.doesNotMatch(e.message, /not-an-email|hunter2/);
        }),
      );
      await assert.rejects(queue.add(echo, { n: "1" } as never), validationError());
      await assert.rejects(queue.add(echo, undefined as never), validationError());
      assert.equal((await queue.counts()).waiting, 0);
      await h.close();
    });

    test("add rejects bad options with the field that was wrong", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const bad: [unknown, string][] = [
        [{ delayMs: -1 }, "delayMs"],
        [{ delay: 100 }, "delay"],
        [{ attempts: 0 }, "attempts"],
        [{ attempts: 1.5 }, "attempts"],
        [{ priority: "urgent" }, "priority"],
        [{ priority: 2_000_000 }, "priority"],
        [{ timeoutMs: 0 }, "timeoutMs"],
        [{ backoff: { type: "linear", delayMs: 5 } }, "backoff.type"],
        [{ backoff: () => 5 }, "backoff"],
        [{ removeOnComplete: -3 }, "removeOnComplete"],
        [{ jobId: "" }, "jobId"],
        [{ jobId: "12345" }, "jobId"],
        [{ delayMs: 5, runAt: Date.now() }, ""],
      ];
      for (const [options, path] of bad) {
        await assert.rejects(
          queue.add(echo, { n: 1 }, options as JobOptions),
          validationError((e) => assert.ok(e.issues?.some((i) => i.path === path), `${JSON.stringify(options)} → ${e.message}`)),
        );
      }
      await h.close();
    });

    test("addBulk validates everything before enqueueing anything", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      await assert.rejects(queue.addBulk([
        { job: echo, payload: { n: 1 } },
        { job: echo, payload: { n: "two" } as never },
      ]), validationError());
      assert.equal((await queue.counts()).waiting, 0);
      const jobs = await queue.addBulk([
        { job: echo, payload: { n: 1 } },
        { job: email, payload: { to: "ada@example.com" }, options: { priority: "high" } },
      ]);
      assert.deepEqual(jobs.map((j) => [j.name, j.priority]), [["echo", 200], ["email", 100]]);
      await assert.rejects(queue.addBulk([{ job: {} as never, payload: {} }]), TypeError);
      await h.close();
    });

    test("delay, runAt and priority decide state and order", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const now = h.clock.now();
      const delayed = await queue.add(echo, { n: 1 }, { delayMs: 5_000 });
      const at = await queue.add(echo, { n: 2 }, { runAt: new Date(now + 3_000) });
      const past = await queue.add(echo, { n: 3 }, { runAt: now - 10 });
      const low = await queue.add(echo, { n: 4 }, { priority: "low" });
      const numeric = await queue.add(echo, { n: 5 }, { priority: 150 });
      const critical = await queue.add(echo, { n: 6 }, { priority: "critical" });
      assert.equal(delayed.state, "delayed");
      assert.equal(delayed.runAt, now + 5_000);
      assert.equal(at.runAt, now + 3_000);
      assert.equal(past.state, "waiting");
      assert.deepEqual((await queue.list("delayed")).map((j) => j.id), [at.id, delayed.id]);
      assert.deepEqual((await queue.list("waiting")).map((j) => j.id), [critical.id, numeric.id, past.id, low.id]);
      await h.close();
    });

    test("jobId and dedupKey return the existing job", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const first = await queue.add(echo, { n: 1 }, { jobId: "report-2026-01" });
      const again = await queue.add(echo, { n: 2 }, { jobId: "report-2026-01" });
      assert.equal(first.id, "report-2026-01");
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.payload, { n: 1 });
      const a = await queue.add(echo, { n: 1 }, { dedupKey: "user-7" });
      const b = await queue.add(echo, { n: 1 }, { dedupKey: "user-7", delayMs: 100 });
      assert.equal(b.id, a.id);
      assert.equal(b.duplicate, true);
      assert.equal((await queue.counts()).waiting, 2);
      await h.close();
    });

    test("the stored payload is a copy of what the producer passed", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const payload = { n: 1 };
      const job = await queue.add(echo, payload);
      payload.n = 99;
      assert.deepEqual((await queue.get(job.id))?.payload, { n: 1 });
      await h.close();
    });

    test("cancel, retry and remove answer with typed errors for the wrong state", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const job = await queue.add(echo, { n: 1 });
      await assert.rejects(queue.retry(job.id), (e) => isConveyorError(e, "INVALID_STATE"));
      assert.equal(await queue.cancel(job.id), "waiting");
      await assert.rejects(queue.cancel(job.id), (e) => isConveyorError(e, "INVALID_STATE") && /cancelled/.test(e.message));
      await assert.rejects(queue.cancel("nope"), (e) => isConveyorError(e, "JOB_NOT_FOUND"));
      await assert.rejects(queue.retry("nope"), (e) => isConveyorError(e, "JOB_NOT_FOUND"));
      await assert.rejects(queue.remove("nope"), (e) => isConveyorError(e, "JOB_NOT_FOUND"));
      const retried = await queue.retry(job.id);
      assert.equal(retried.state, "waiting");
      await queue.remove(job.id);
      assert.equal(await queue.get(job.id), null);
      await h.close();
    });

    test("counts, list paging and clean", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const jobs = await queue.addBulk(Array.from({ length: 7 }, (_, n) => ({ job: echo, payload: { n } })));
      for (const job of jobs.slice(0, 3)) await queue.cancel(job.id);
      const counts = await queue.counts();
      assert.equal(counts.waiting, 4);
      assert.equal(counts.cancelled, 3);
      const page = await queue.list("waiting", { offset: 1, limit: 2 });
      assert.deepEqual(page.map((j) => j.id), [jobs[4]!.id, jobs[5]!.id]);
      assert.equal(await queue.clean("cancelled"), 3);
      assert.equal((await queue.counts()).cancelled, 0);
      await assert.rejects(queue.clean("waiting"), RangeError);
      await assert.rejects(queue.list("running" as never), TypeError);
      await assert.rejects(queue.list("waiting", { limit: 0 }), TypeError);
      await h.close();
    });

    test("pause and resume are visible in counts", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      await queue.add(echo, { n: 1 });
      await queue.pause();
      assert.equal(await queue.isPaused(), true);
      assert.equal((await queue.counts()).paused, 1);
      await queue.resume();
      assert.equal((await queue.counts()).waiting, 1);
      await h.close();
    });

    test("a closed queue refuses new jobs", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      queue.close();
      await assert.rejects(queue.add(echo, { n: 1 }), (e) => isConveyorError(e, "QUEUE_CLOSED"));
      await h.close();
    });
  });
}

describe("defineJob and names", () => {
  test("rejects bad names, non-schemas and bad defaults", () => {
    assert.throws(() => defineJob("", v.string()), TypeError);
    assert.throws(() => defineJob("has space", v.string()), TypeError);
    assert.throws(() => defineJob("ok", {} as never), TypeError);
    assert.throws(() => defineJob("ok", v.string(), { attempts: -1 }), TypeError);
    assert.throws(() => defineJob("ok", v.string(), { retries: 3 } as never), /retries/);
  });

  test("accepts a backoff function as a default, and infers payload types", async () => {
    const job = defineJob("typed", v.object({ id: v.number() }), { backoff: (n) => n * 10 });
    assert.equal(typeof job.backoffFunction, "function");
    const { createConveyor } = await import("../mod.ts");
    const conveyor = createConveyor();
    const queue = conveyor.queue("types");
    // @ts-expect-error: id must be a number
    await assert.rejects(queue.add(job, { id: "x" }));
    await queue.add(job, { id: 1 });
    conveyor.worker(queue, { autostart: false }).handle(job, (payload) => {
      const id: number = payload.id;
      return id;
    });
    await conveyor.close();
  });

  test("queue names are checked", () => {
    return import("../mod.ts").then(({ createConveyor }) => {
      assert.throws(() => createConveyor().queue("bad name"), TypeError);
    });
  });

  test("a queue refuses two different definitions with one name", async () => {
    const { createConveyor } = await import("../mod.ts");
    const queue = createConveyor().queue("q");
    await queue.add(echo, { n: 1 });
    const impostor = defineJob("echo", v.object({ n: v.string() }));
    await assert.rejects(queue.add(impostor, { n: "1" }), TypeError);
  });
});
