// Job data every store must keep and give back as it was given: nesting up to MAX_DATA_DEPTH
// (deeper is refused before anything is stored) and "__proto__" keys kept as plain data.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { defineJob, isConveyorError, MAX_DATA_DEPTH } from "../mod.ts";
import { cloneData, dataDepth } from "../src/core/clone.ts";
import { backends } from "./support/backends.ts";
import { setup } from "./support/harness.ts";

const anything = defineJob("anything", v.unknown());

/** `{ a: { a: … 1 } }` with `depth` objects, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** Mixed objects and arrays, so both kinds of container count. */
function nestedMixed(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 ? { k: value } : [value];
  return value;
}

const withProto = () => JSON.parse('{"__proto__": {"x": 1}, "constructor": {"prototype": {"y": 2}}, "n": 1}');

const tooDeep = (error: unknown) => {
  assert.ok(isConveyorError(error, "VALIDATION_FAILED"), `expected VALIDATION_FAILED, got ${error}`);
  assert.match(error.message, new RegExp(`at most ${MAX_DATA_DEPTH} levels`));
  assert.doesNotMatch(error.message, /"a"|leaf/, "the message does not quote the data");
  return true;
};

function assertOwnProto(value: unknown, where: string) {
  const object = value as Record<string, unknown>;
  assert.ok(Object.hasOwn(object, "__proto__"), `${where}: "__proto__" kept as an own property`);
  assert.equal(Object.getPrototypeOf(object), Object.prototype, `${where}: the prototype is untouched`);
  assert.equal(JSON.stringify(object), '{"__proto__":{"x":1},"constructor":{"prototype":{"y":2}},"n":1}', `${where}: the same data`);
  assert.equal(({} as Record<string, unknown>).x, undefined, "Object.prototype not polluted");
}

describe("cloneData and dataDepth", () => {
  test("count containers, not values", () => {
    assert.deepEqual([dataDepth(1), dataDepth({}), dataDepth([[1]]), dataDepth(nestedMixed(7))], [0, 1, 2, 7]);
    assert.equal(dataDepth(new Map([[1, { a: [] }]])), 3, "a Map's values count");
    assert.equal(dataDepth(new Uint8Array(10_000)), 0, "binary data is a leaf");
  });

  test("never overflow the stack: 100,000 levels or a cycle is a RangeError", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const deepMap = new Map<number, unknown>([[1, nested(100_000)]]);
    for (const value of [nested(100_000), nestedMixed(100_000), cyclic, deepMap]) {
      assert.ok(dataDepth(value) > MAX_DATA_DEPTH);
      assert.throws(() => cloneData(value), (e) => e instanceof RangeError && /more than 100 levels/.test(e.message));
    }
    assert.deepEqual(cloneData(nested(MAX_DATA_DEPTH)), nested(MAX_DATA_DEPTH));
  });

  test("keep a \"__proto__\" key as data, without touching any prototype", () => {
    const copy = cloneData({ outer: withProto() }).outer;
    assertOwnProto(copy, "cloneData");
    assert.equal((copy as { x?: number }).x, undefined, "the copy did not get a prototype with x");
  });
});

for (const backend of backends) {
  describe(`Job data (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test(`payload, result and progress nested ${MAX_DATA_DEPTH} levels deep round-trip`, async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const worker = h.conveyor.worker("q", { autostart: false }).handle(anything, async (payload, ctx) => {
        assert.deepEqual(payload, nested(MAX_DATA_DEPTH), "the handler gets the payload");
        await ctx.progress(nestedMixed(MAX_DATA_DEPTH));
        return nestedMixed(MAX_DATA_DEPTH);
      });
      const added = await queue.add(anything, nested(MAX_DATA_DEPTH));
      assert.deepEqual(added.payload, nested(MAX_DATA_DEPTH));
      assert.deepEqual((await queue.get(added.id))?.payload, nested(MAX_DATA_DEPTH));
      const [bulk] = await queue.addBulk([{ job: anything, payload: nested(MAX_DATA_DEPTH) }]);
      assert.deepEqual((await queue.list("waiting")).map((j) => j.payload), [nested(MAX_DATA_DEPTH), nested(MAX_DATA_DEPTH)]);
      await worker.drain();
      for (const id of [added.id, bulk!.id]) {
        const done = await queue.get(id);
        assert.equal(done?.state, "completed", `${done?.lastError?.message}`);
        assert.deepEqual(done?.result, nestedMixed(MAX_DATA_DEPTH));
        assert.deepEqual(done?.progress, nestedMixed(MAX_DATA_DEPTH));
      }
      await h.close();
    });

    test(`add and addBulk refuse data nested deeper than ${MAX_DATA_DEPTH}, or cyclic, before storing it`, async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      for (const payload of [nested(MAX_DATA_DEPTH + 1), nestedMixed(MAX_DATA_DEPTH + 1), nested(10_000), cyclic]) {
        await assert.rejects(queue.add(anything, payload), tooDeep);
        await assert.rejects(queue.addBulk([{ job: anything, payload: 1 }, { job: anything, payload }]), tooDeep);
      }
      assert.equal((await queue.counts()).waiting, 0, "nothing was stored, not even the valid bulk entry");
      assert.deepEqual(await queue.list("waiting"), []);
      await h.close();
    });

    test("a result or progress nested too deep fails that attempt or that call, and the store goes on", async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      const progress: unknown[] = [];
      const worker = h.conveyor.worker("q", { autostart: false }).handle(anything, async (payload, ctx) => {
        if (payload === "deep-progress") {
          await ctx.progress(nested(10_000)).catch((error) => progress.push(tooDeep(error)));
          return "done";
        }
        return payload === "deep-result" ? nested(MAX_DATA_DEPTH + 1) : "fine";
      });
      const deepResult = await queue.add(anything, "deep-result", { attempts: 2, deadLetter: false });
      const deepProgress = await queue.add(anything, "deep-progress");
      const fine = await queue.add(anything, "fine");
      await worker.drain();
      const failed = await queue.get(deepResult.id);
      assert.equal(failed?.state, "failed");
      assert.equal(failed?.attemptsMade, 2, "each attempt failed, the usual retries applied");
      assert.equal(failed?.lastError?.code, "VALIDATION_FAILED");
      assert.match(failed?.lastError?.message ?? "", /result of job .* at most 100 levels/);
      assert.deepEqual(progress, [true]);
      const withProgress = await queue.get(deepProgress.id);
      assert.deepEqual([withProgress?.state, withProgress?.progress, withProgress?.result], ["completed", null, "done"]);
      assert.equal((await queue.get(fine.id))?.result, "fine", "later jobs are unaffected");
      await h.close();
    });

    test('a "__proto__" key in a payload, result or progress is kept as data', async () => {
      const h = await setup(backend);
      const queue = h.conveyor.queue("q");
      let seen: unknown;
      const worker = h.conveyor.worker("q", { autostart: false }).handle(anything, async (payload, ctx) => {
        seen = payload;
        await ctx.progress(withProto());
        return withProto();
      });
      const added = await queue.add(anything, withProto());
      assertOwnProto(added.payload, "add");
      assertOwnProto((await queue.get(added.id))?.payload, "get");
      assertOwnProto((await queue.list("waiting"))[0]?.payload, "list");
      await worker.drain();
      assertOwnProto(seen, "handler");
      const done = await queue.get(added.id);
      assertOwnProto(done?.result, "result");
      assertOwnProto(done?.progress, "progress");
      await h.close();
    });
  });
}
