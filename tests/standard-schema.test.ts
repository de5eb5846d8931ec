// Job payload schemas from any Standard Schema library: valibot, zod and arktype, or a clear refusal.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type } from "arktype";
import { z } from "zod";
import { createConveyor, defineJob, FakeClock, isConveyorError } from "../mod.ts";
import { createApp } from "../http.ts";
import { eventually } from "./support/harness.ts";

const zodJob = defineJob("zod-signup", z.object({ email: z.email(), age: z.coerce.number().int().min(18), code: z.string().length(6) }));
const arkJob = defineJob("ark-resize", type({ url: "string.url", width: "number.integer > 0" }));

const validationFailed = (paths: string[], secret?: string) => (error: unknown) => {
  assert.ok(isConveyorError(error, "VALIDATION_FAILED"), `expected VALIDATION_FAILED, got ${error}`);
  assert.deepEqual(error.issues?.map((i) => i.path).sort(), [...paths].sort());
  if (secret) assert.doesNotMatch(JSON.stringify({ message: error.message, issues: error.issues }), new RegExp(secret));
  return true;
};

describe("Standard Schema payloads", () => {
  test("a zod schema validates at add, and the handler gets its output (coerced)", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock });
    const queue = conveyor.queue("signups");
    const seen: unknown[] = [];
    conveyor.worker(queue).handle(zodJob, (payload) => {
      seen.push(payload);
      return payload.age + 1; // typed as number: the schema's output
    });
    const job = await queue.add(zodJob, { email: "ada@example.com", age: "36", code: "123456" });
    assert.equal(await queue.finished(job), 37);
    assert.deepEqual(seen, [{ email: "ada@example.com", age: 36, code: "123456" }]);
    await assert.rejects(
      queue.add(zodJob, { email: "not-an-email", age: 12, code: "hunter2x" } as never),
      validationFailed(["email", "age", "code"], "hunter2x|not-an-email"),
    );
    assert.equal((await queue.counts()).waiting, 0);
    await conveyor.close();
  });

  test("an arktype schema validates at add, and its messages do not echo the value", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock });
    const queue = conveyor.queue("images");
    conveyor.worker(queue).handle(arkJob, ({ url, width }) => `${url}@${width}`);
    const job = await queue.add(arkJob, { url: "https://example.com/a.png", width: 200 });
    assert.equal(await queue.finished(job), "https://example.com/a.png@200");
    await assert.rejects(
      queue.add(arkJob, { url: "secret-token-value", width: -3 } as never),
      validationFailed(["url", "width"], "secret-token-value"),
    );
    await conveyor.close();
  });

  test("anything else is refused at defineJob, naming what is needed", () => {
    const valibotZeroLike = { type: "object", async: false, _parse() {} };
    for (const schema of [valibotZeroLike, null, undefined, 42, { "~standard": { version: 2, validate() {} } }]) {
      assert.throws(
        () => defineJob("old", schema as never),
        (error: unknown) => error instanceof TypeError && /expects a Standard Schema/.test(error.message) && /valibot ≥1, zod ≥3\.24, arktype ≥2/.test(error.message),
      );
    }
  });

  test("a schema that validates asynchronously is refused at add with a TypeError, nothing stored", async () => {
    const conveyor = createConveyor({ clock: new FakeClock() });
    const queue = conveyor.queue("q");
    const slow = defineJob("slow", z.object({ n: z.number() }).refine(async (value) => value.n > 0));
    await assert.rejects(queue.add(slow, { n: 1 }), /validates asynchronously/);
    assert.equal((await queue.counts()).waiting, 0);
    await conveyor.close();
  });

  test("the HTTP app answers 400 with the zod issues' paths, before anything is stored", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock });
    conveyor.queue("signups").register(zodJob);
    const app = createApp(conveyor, { auth: false });
    const post = (payload: unknown) =>
      app.request("/queues/signups/jobs", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "zod-signup", payload }),
      });
    const bad = await post({ email: "x", age: 3, code: "12" });
    assert.equal(bad.status, 400);
    const body = await bad.json() as { error: { code: string; issues: { path: string }[] } };
    assert.equal(body.error.code, "VALIDATION_FAILED");
    assert.deepEqual(body.error.issues.map((i) => i.path).sort(), ["body.payload.age", "body.payload.code", "body.payload.email"]);
    assert.equal((await conveyor.queue("signups").counts()).waiting, 0);
    const good = await post({ email: "ada@example.com", age: 40, code: "abcdef" });
    assert.equal(good.status, 201);
    await eventually(clock, async () => (await conveyor.queue("signups").counts()).waiting === 1);
    await conveyor.close();
  });
});
