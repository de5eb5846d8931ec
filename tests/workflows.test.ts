// Chains, flows and batches through the public API, with real workers on every store and a fake clock.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { defineJob } from "../mod.ts";
import { backends } from "./support/backends.ts";
import { eventually, setup } from "./support/harness.ts";

const fetchUser = defineJob("fetch-user", v.object({ id: v.number() }));
const greet = defineJob("greet", v.object({ name: v.string(), id: v.number() }), { attempts: 2, backoff: { type: "fixed", delayMs: 1_000 } });
const record = defineJob("record", v.unknown());
const sum = defineJob("sum", v.object({ label: v.string() }));
const square = defineJob("square", v.number());

for (const backend of backends) {
  describe(`workflows (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test("a chain runs step by step, each with the result before it, across queues; catch gets the final error, finally runs last", async () => {
      const h = await setup(backend);
      const users = h.conveyor.queue("users");
      const mail = h.conveyor.queue("mail");
      const seen: unknown[] = [];
      h.conveyor.worker(users).handle(fetchUser, ({ id }) => ({ name: `user-${id}`, id }))
        .handle(record, (payload, ctx) => {
          seen.push({ step: ctx.name, payload, previous: ctx.previous?.name ?? null });
          return "recorded";
        });
      h.conveyor.worker(mail).handle(greet, ({ name, id }, ctx) => {
        if (id === 13) throw new Error(`no mail for ${name}`);
        seen.push({ step: "greet", name, previous: ctx.previous?.result });
        return `hello ${name}`;
      });
      const first = await users.chain(fetchUser, { id: 7 })
        .then(greet, undefined, { queue: mail })
        .then(record)
        .finally(record, { fin: true })
        .add();
      assert.equal(first.state, "waiting");
      assert.deepEqual(first.flow?.chain?.then.map((s) => [s.job.name, s.queue]), [["greet", "mail"], ["record", "users"]]);
      await eventually(h.clock, () => seen.length === 3);
      assert.deepEqual(seen, [
        { step: "greet", name: "user-7", previous: { name: "user-7", id: 7 } },
        { step: "record", payload: "hello user-7", previous: "greet" },
        { step: "record", payload: { fin: true }, previous: "record" },
      ]);

      seen.length = 0;
      await users.chain(fetchUser, { id: 13 }).then(greet, undefined, { queue: "mail" }).then(record, "never").catch(record).finally(record).add();
      await eventually(h.clock, async () => (await mail.counts()).delayed === 1);
      await h.clock.advance(1_000); // greet retries once, then fails for good
      await eventually(h.clock, () => seen.length === 2);
      const [rescue, last] = seen as { step: string; payload: { message?: string; state?: string }; previous: string }[];
      assert.equal(rescue!.payload.message, "no mail for user-13");
      assert.equal(rescue!.previous, "greet");
      assert.deepEqual(last!.payload, { state: "completed", result: "recorded" });
      await h.close();
    });

    test("a step whose inherited payload does not match its schema fails as unrecoverable, and catch hears of it", async () => {
      const h = await setup(backend);
      const q = h.conveyor.queue("q");
      q.events.addEventListener("dead", () => {});
      const caught: unknown[] = [];
      h.conveyor.worker(q).handle(square, (n) => n * n).handle(fetchUser, () => "unused").handle(record, (error) => caught.push(error));
      await q.chain(square, 3).then(fetchUser).catch(record).add();
      await eventually(h.clock, () => caught.length === 1);
      assert.match((caught[0] as { message: string }).message, /no longer matches its schema/);
      await h.close();
    });

    test("a flow's parent runs once every child ended, with their results; its tree is readable", async () => {
      const h = await setup(backend);
      const reports = h.conveyor.queue("reports");
      h.conveyor.worker(reports).handle(sum, ({ label }, ctx) => ({ label, total: ctx.children.reduce((t, c) => t + (c.result as number), 0) }));
      h.conveyor.worker("numbers", { concurrency: 3 }).handle(square, (n) => n * n);
      const flow = await h.conveyor.flow({
        queue: reports, job: sum, payload: { label: "squares" },
        children: [1, 2, 3].map((n) => ({ queue: "numbers", job: square, payload: n })),
      });
      assert.equal(flow.job.state, "waiting-children");
      assert.deepEqual(flow.children.map((c) => c.job.state), ["waiting", "waiting", "waiting"]);
      const result = await reports.finished(flow.job);
      assert.deepEqual(result, { label: "squares", total: 14 });
      const tree = await h.conveyor.getFlow("reports", flow.job.id);
      assert.equal(tree?.job.state, "completed");
      assert.deepEqual(tree?.children.map((c) => c.job.result).sort(), [1, 4, 9]);
      assert.equal(tree?.job.flow?.family?.pending, 0);
      await h.close();
    });

    test("cancelling a parent cancels its pending children; a batch ends by itself and runs then, or catch", async () => {
      const h = await setup(backend);
      const q = h.conveyor.queue("q");
      const flow = await h.conveyor.flow({ queue: q, job: sum, payload: { label: "x" }, children: [{ queue: q, job: square, payload: 2 }] });
      await q.cancel(flow.job.id);
      assert.equal((await q.get(flow.children[0]!.job.id))?.state, "cancelled");

      const after: unknown[] = [];
      h.conveyor.worker(q, { concurrency: 4 }).handle(square, (n) => {
        if (n < 0) throw new Error("negative");
        return n * n;
      }).handle(record, (payload, ctx) => after.push([ctx.name, payload]));
      const good = await h.conveyor.batch([1, 2, 3].map((n) => ({ job: square, payload: n })), {
        queue: "q", then: { job: record }, catch: { job: record, payload: "caught" }, finally: { job: record, payload: "finally" },
      });
      assert.deepEqual([good.total, good.pending, good.state], [3, 3, "waiting-children"]);
      await eventually(h.clock, () => after.length === 2);
      assert.deepEqual(after, [["record", { total: 3, completed: 3, failed: 0 }], ["record", "finally"]]);
      assert.deepEqual(await h.conveyor.getBatch("q", good.id).then((b) => [b?.state, b?.processed, b?.failed]), ["completed", 3, 0]);

      after.length = 0;
      q.events.addEventListener("dead", () => {});
      const bad = await h.conveyor.batch([{ job: square, payload: -1 }, { job: square, payload: 5 }], {
        queue: "q", allowFailures: true, then: { job: record, payload: "then" }, catch: { job: record },
      });
      await eventually(h.clock, () => after.length === 1);
      assert.equal((after[0] as [string, { code: string }])[1].code, "BATCH_FAILED");
      const progress = await h.conveyor.getBatch("q", bad.id);
      assert.deepEqual([progress?.state, progress?.processed, progress?.failed], ["failed", 2, 1]);
      await h.close();
    });
  });
}

describe("workflows: bad input is refused before anything is stored", () => {
  const memory = backends.find((b) => b.name === "memory")!;

  test("chains", async () => {
    const h = await setup(memory);
    const q = h.conveyor.queue("q");
    assert.throws(() => q.chain(square, 2).then(fetchUser, { id: "seven" } as never), (e: Error & { code?: string }) => e.code === "VALIDATION_FAILED");
    assert.throws(() => q.chain(square, 2).then(square, ((n: number) => n) as never), /function as its payload/);
    assert.throws(() => q.chain(square, 2).then({ name: "nope" } as never), /job definition made by defineJob/);
    assert.throws(() => q.chain(square, 2).finally(record).then(square), /then\(\) comes before catch\(\) and finally\(\)/);
    const long = q.chain(square, 1);
    assert.throws(() => { for (let i = 0; i < 200; i++) long.then(square); }, RangeError);
    await assert.rejects(q.chain([{ job: square, payload: 1 }, { job: "square" as never }]), /steps\[1\]/);
    const builder = q.chain(square, 1);
    await builder.add();
    assert.throws(() => builder.then(square), /came after add\(\)/);
    assert.equal((await q.counts()).waiting, 1, "only the chain that was added is stored");
    await h.close();
  });

  test("flows and batches", async () => {
    const h = await setup(memory);
    const leaf = { queue: "q", job: square, payload: 1 };
    const cyclic: { queue: string; job: typeof sum; payload: { label: string }; children: unknown[] } = { queue: "q", job: sum, payload: { label: "c" }, children: [] };
    cyclic.children.push(cyclic);
    await assert.rejects(h.conveyor.flow(cyclic as never), /its own ancestors/);
    let deep: object = leaf;
    for (let i = 0; i < 12; i++) deep = { queue: "q", job: sum, payload: { label: String(i) }, children: [deep] };
    await assert.rejects(h.conveyor.flow(deep as never), RangeError);
    await assert.rejects(h.conveyor.flow({ ...leaf, options: { jobId: "mine" } as never }), /jobId and dedupKey are not allowed/);
    await assert.rejects(h.conveyor.flow({ queue: "q", job: sum, payload: { label: "x" }, children: [{ ...leaf, payload: "two" as never }] }), (e: Error & { code?: string }) => e.code === "VALIDATION_FAILED");
    await assert.rejects(h.conveyor.batch([]), TypeError);
    await assert.rejects(h.conveyor.batch([leaf], { allowFailures: "yes" } as never), TypeError);
    assert.equal((await h.conveyor.queue("q").counts()).waiting, 0);
    await h.close();
  });
});

test("who made a chain or a batch is kept on every job it makes", async () => {
  const h = await setup(backends.find((b) => b.name === "memory")!);
  const q = h.conveyor.queue("q");
  const made: (string | null)[] = [];
  h.conveyor.worker(q).handle(square, (n, ctx) => {
    made.push(ctx.job.createdBy);
    return n;
  });
  await q.chain(square, 1, { createdBy: "ada" }).then(square).add();
  const batch = await h.conveyor.batch([{ job: square, payload: 2 }], { queue: "q", createdBy: "bob", then: { job: square, payload: 3 } });
  assert.equal((await q.get(batch.id))?.createdBy, "bob");
  await eventually(h.clock, () => made.length === 4);
  assert.deepEqual(made.sort(), ["ada", "ada", "bob", null].sort());
  await h.close();
});
