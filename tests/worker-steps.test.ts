// ctx.step on every store with a fake clock: a retry skips the steps that finished.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { defineJob, isConveyorError } from "../mod.ts";
import { backends } from "./support/backends.ts";
import { deferred, eventually, setup } from "./support/harness.ts";

const twoSteps = defineJob("two-steps", v.object({ n: v.number() }), { attempts: 2, backoff: { type: "fixed", delayMs: 1_000 } });

for (const backend of backends) {
  describe(`ctx.step (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test("a retry gets the finished step's stored result without running it again", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      queue.events.addEventListener("failed", () => {});
      const runs = { charge: 0, mail: 0 };
      h.conveyor.worker(queue).handle(twoSteps, async ({ n }, ctx) => {
        const receipt = await ctx.step("charge", () => {
          runs.charge++;
          return { receipt: `r-${n}` };
        });
        const nothing = await ctx.step("note", () => undefined);
        await ctx.step("mail", () => {
          runs.mail++;
          if (ctx.attempt === 1) throw new Error("smtp down");
        });
        return { ...receipt, nothing, attempt: ctx.attempt, seen: Object.keys(ctx.job.steps).sort() };
      });
      const job = await queue.add(twoSteps, { n: 7 });
      const outcome = queue.finished(job);
      await eventually(h.clock, async () => (await queue.get(job.id))?.attemptsMade === 1);
      await h.clock.advance(1_000);
      assert.deepEqual(await outcome, { receipt: "r-7", nothing: null, attempt: 2, seen: ["charge", "note"] });
      assert.deepEqual(runs, { charge: 1, mail: 2 });
      assert.deepEqual((await queue.get(job.id))?.steps, { charge: { receipt: "r-7" }, note: null, mail: null });
      await h.close();
    });

    test("bad steps fail the attempt with a clear error; a step after cancellation is not recorded", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const errors: unknown[] = [];
      const gate = deferred();
      const once = defineJob("once", v.object({ kind: v.string() }));
      queue.events.addEventListener("dead", () => {});
      h.conveyor.worker(queue, { concurrency: 3 }).handle(once, async ({ kind }, ctx) => {
        try {
          if (kind === "no-name") await ctx.step("", () => 1);
          if (kind === "unstorable") await ctx.step("big", () => 10n);
          if (kind === "cancelled") {
            await gate.promise;
            await ctx.step("late", () => 1);
          }
        } catch (error) {
          errors.push(error);
          throw error;
        }
      });
      const [noName, unstorable, cancelled] = await queue.addBulk(
        ["no-name", "unstorable", "cancelled"].map((kind) => ({ job: once, payload: { kind } })),
      );
      await eventually(h.clock, async () => (await queue.get(cancelled!.id))?.state === "active");
      await queue.cancel(cancelled!.id);
      gate.resolve();
      await eventually(h.clock, () => errors.length === 3);
      const [first, second, third] = errors;
      assert.ok(first instanceof TypeError && /step\(\) needs a name/.test(first.message));
      assert.ok(isConveyorError(second, "VALIDATION_FAILED"), String(second));
      assert.ok(isConveyorError(third, "LEASE_LOST"), String(third));
      assert.deepEqual((await queue.get(cancelled!.id))?.steps, {});
      for (const job of [noName!, unstorable!]) await eventually(h.clock, async () => (await queue.get(job.id))?.state === "dead");
      await h.close();
    });
  });
}
