// Schedules that start a chain, a flow or a batch (by job name) at each tick: validated when
// defined, fired once per tick by any number of nodes, and a tick whose claimant stopped
// recovered without a second run. Every backend, fake time.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as v from "valibot";
import { type Conveyor, createConveyor, defineJob, FakeClock, isConveyorError, MAX_CHAIN_STEPS, MAX_FLOW_DEPTH, type QueueStore } from "../mod.ts";
import type { PendingTick } from "../src/scheduler/pending.ts";
import type { WorkflowTarget } from "../src/scheduler/schedule-record.ts";
import { backends } from "./support/backends.ts";
import { deferred, eventually } from "./support/harness.ts";

const fetchUser = defineJob("fetch-user", v.object({ id: v.number() }));
const greet = defineJob("greet", v.object({ name: v.string() }));
const square = defineJob("square", v.number());
const sum = defineJob("sum", v.object({ label: v.string() }));
const MINUTE = 60_000;
const TIMEOUT = 5_000; // the default claimTimeoutMs

const chainTarget: WorkflowTarget = { queue: "users", chain: { steps: [{ name: "fetch-user", payload: { id: 7 } }, { name: "greet", queue: "mail" }] } };
const flowTarget: WorkflowTarget = { queue: "reports", flow: { name: "sum", payload: { label: "squares" }, children: [2, 3].map((n) => ({ queue: "numbers", name: "square", payload: n })) } };
const batchTarget: WorkflowTarget = { queue: "imports", batch: { jobs: [1, 2].map((n) => ({ queue: "numbers", name: "square", payload: n })), name: "nightly" } };

/** A node: a conveyor over `store` with every job known on its queue, and a scheduler that fires only when told. */
function node(store: QueueStore, clock: FakeClock) {
  const conveyor = createConveyor({ store, clock });
  conveyor.queue("users").register(fetchUser);
  conveyor.queue("mail").register(greet);
  conveyor.queue("numbers").register(square);
  conveyor.queue("reports").register(sum);
  conveyor.queue("imports");
  return { conveyor, scheduler: conveyor.scheduler({ autostart: false }) };
}

const pendingOf = async (store: QueueStore, id: string) => ((await store.getRecord<{ pending?: PendingTick[] }>("schedule-state", id))?.pending ?? []);
const roots = async (conveyor: Conveyor, queue: string) => await conveyor.queue(queue).list("waiting-children");

/**
 * A node that dies at one compare-and-set of a schedule's state: right after its claim is
 * written (`after-claim`), or instead of clearing the mark once its run is started
 * (`before-clear`). From then on no call it makes answers.
 */
function dying(store: QueueStore, when: "after-claim" | "before-clear") {
  const died = deferred();
  let dead = false;
  const marks = (state: unknown) => (state as { pending?: PendingTick[] } | null)?.pending ?? [];
  const view = new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        const never = () => new Promise<never>(() => {});
        if (dead) return await never();
        const swap = property === "compareAndSetRecord" && args[0] === "schedule-state";
        if (swap && when === "before-clear" && marks(args[3]).length < marks(args[2]).length) {
          dead = true;
          died.resolve();
          return await never();
        }
        const result = await value.apply(target, args);
        if (swap && when === "after-claim" && result === true && marks(args[3]).length > marks(args[2]).length) {
          dead = true;
          died.resolve();
          return await never();
        }
        return result;
      };
    },
  });
  return { store: view, died: died.promise };
}

for (const backend of backends) {
  describe(`Scheduled workflows (${backend.name})`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test("a scheduled chain: two nodes, one run per tick, its first step under the tick's id, every step in order", async () => {
      const clock = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      const a = node(store, clock);
      const b = node(store, clock);
      try {
        for (const n of [a, b]) await n.scheduler.schedule("greetings", { everyMs: MINUTE }, chainTarget, { overlap: "allow" });
        await clock.advance(MINUTE);
        const tick = Math.floor(clock.now() / MINUTE) * MINUTE;
        const fired = [...await a.scheduler.tick(), ...await b.scheduler.tick()];
        assert.deepEqual(fired.map((job) => [job.id, job.name, job.createdBy]), [[`schedule:greetings:${tick}`, "fetch-user", "schedule:greetings"]]);
        assert.deepEqual(fired[0]!.flow?.chain?.then.map((step) => [step.job.name, step.queue]), [["greet", "mail"]]);
        const greeted: string[] = [];
        a.conveyor.worker("users").handle(fetchUser, ({ id }) => ({ name: `user-${id}` }));
        a.conveyor.worker("mail").handle(greet, ({ name }) => void greeted.push(name));
        await eventually(clock, () => greeted.length === 1);
        assert.deepEqual(greeted, ["user-7"]);
        const info = await b.scheduler.get("greetings");
        assert.deepEqual([info?.runs, info?.lastJobId, info?.lastOutcome, info?.workflow && "chain" in info.workflow], [1, `schedule:greetings:${tick}`, "completed", true]);
      } finally {
        await a.conveyor.close({ timeoutMs: 0 });
        await b.conveyor.close({ timeoutMs: 0 });
      }
    });

    for (const [kind, target, rootQueue] of [["flow", flowTarget, "reports"], ["batch", batchTarget, "imports"]] as const) {
      test(`a scheduled ${kind}: two nodes, one run per tick; its jobs marked with the tick; the root is the last run, and skip waits for it`, async () => {
        const clock = new FakeClock({ settleMs: backend.settleMs });
        const store = await backend.create();
        const a = node(store, clock);
        const b = node(store, clock);
        try {
          for (const n of [a, b]) await n.scheduler.schedule("nightly", { everyMs: MINUTE }, target);
          await clock.advance(MINUTE);
          const tick = Math.floor(clock.now() / MINUTE) * MINUTE;
          const fired = [...await b.scheduler.tick(), ...await a.scheduler.tick()];
          assert.equal(fired.length, 1, "one run for the tick");
          const [root] = await roots(a.conveyor, rootQueue);
          assert.deepEqual([root?.id, root?.flow?.family?.children.length], [fired[0]!.id, 2]);
          const children = await a.conveyor.queue("numbers").list("waiting");
          assert.deepEqual(children.map((job) => job.createdBy), [`schedule:nightly:${tick}`, `schedule:nightly:${tick}`], "each job records its tick");
          assert.deepEqual([(await a.scheduler.get("nightly"))?.lastJobId, (await a.scheduler.get("nightly"))?.lastOutcome], [root!.id, "waiting-children"]);

          await clock.advance(MINUTE); // the run is still waiting for its children: overlap "skip"
          assert.deepEqual(await a.scheduler.tick(), []);
          assert.deepEqual([(await a.scheduler.get("nightly"))?.skipped, (await roots(a.conveyor, rootQueue)).length], [1, 1]);

          a.conveyor.worker("numbers", { concurrency: 2 }).handle(square, (n) => n * n);
          a.conveyor.worker("reports").handle(sum, ({ label }, ctx) => ({ label, total: ctx.children.reduce((t, c) => t + (c.result as number), 0) }));
          await eventually(clock, async () => (await a.conveyor.queue(rootQueue).get(root!.id))?.state === "completed");
          if (kind === "flow") assert.deepEqual((await a.conveyor.queue("reports").get(root!.id))?.result, { label: "squares", total: 13 });
        } finally {
          await a.conveyor.close({ timeoutMs: 0 });
          await b.conveyor.close({ timeoutMs: 0 });
        }
      });

      for (const when of ["after-claim", "before-clear"] as const) {
        test(`a ${kind} tick whose claimant dies ${when === "after-claim" ? "right after claiming it" : "after starting it, before clearing its mark"}: recovered once the claim times out, run once`, async () => {
          const clock = new FakeClock({ settleMs: backend.settleMs });
          const store = await backend.create();
          const died = dying(store, when);
          const a = node(died.store, clock);
          const b = node(store, clock);
          try {
            await b.scheduler.schedule("nightly", { everyMs: MINUTE }, target, { overlap: "allow" });
            await clock.advance(MINUTE);
            void a.scheduler.tick();
            await died.died;
            assert.equal((await roots(b.conveyor, rootQueue)).length, when === "after-claim" ? 0 : 1);
            assert.equal((await pendingOf(store, "nightly")).length, 1, "the tick is left pending");
            assert.deepEqual(await b.scheduler.tick(), [], "a fresh claim is left to its node");
            await clock.advance(TIMEOUT);
            const recovered = await b.scheduler.tick();
            const left = await roots(b.conveyor, rootQueue);
            assert.equal(left.length, 1, "one run for the tick");
            assert.deepEqual(recovered.map((job) => job.id), when === "after-claim" ? [left[0]!.id] : [], "started by the recovering node only if it was not already");
            assert.deepEqual(await pendingOf(store, "nightly"), []);
            const info = await b.scheduler.get("nightly");
            assert.deepEqual([info?.runs, info?.lastJobId], [1, left[0]!.id]);
          } finally {
            await b.conveyor.close({ timeoutMs: 0 });
          }
        });
      }
    }

    test("a chain tick whose claimant dies after starting it: recovered under the tick's id, created once", async () => {
      const clock = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      const died = dying(store, "before-clear");
      const a = node(died.store, clock);
      const b = node(store, clock);
      try {
        await b.scheduler.schedule("greetings", { everyMs: MINUTE }, chainTarget, { overlap: "allow" });
        await clock.advance(MINUTE);
        void a.scheduler.tick();
        await died.died;
        await clock.advance(TIMEOUT);
        assert.deepEqual(await b.scheduler.tick(), [], "the job is there already");
        assert.equal((await b.conveyor.queue("users").counts()).waiting, 1);
        assert.deepEqual(await pendingOf(store, "greetings"), []);
      } finally {
        await b.conveyor.close({ timeoutMs: 0 });
      }
    });

    test("validated when defined: unknown jobs, too long, too deep and bad payloads are refused naming the step, nothing stored; a node lacking a job leaves the ticks to others", async () => {
      const clock = new FakeClock({ settleMs: backend.settleMs });
      const store = await backend.create();
      const a = node(store, clock);
      const refused = async (target: WorkflowTarget, code: string, message: RegExp) => {
        await assert.rejects(a.scheduler.schedule("bad", { everyMs: MINUTE }, target), (error) => isConveyorError(error) && error.code === code && message.test(error.message));
      };
      try {
        await refused({ queue: "users", chain: { steps: [{ name: "fetch-user", payload: { id: 1 } }, { name: "greet" }] } }, "UNKNOWN_JOB", /^steps\[1\]: no job named "greet" on queue "users"/);
        await refused({ queue: "users", chain: { steps: Array(MAX_CHAIN_STEPS + 1).fill({ name: "fetch-user", payload: { id: 1 } }) } }, "VALIDATION_FAILED", /at most 100 steps/);
        let deep: Record<string, unknown> = { name: "square", payload: 1 };
        for (let i = 0; i < MAX_FLOW_DEPTH; i++) deep = { name: "square", payload: 1, children: [deep] };
        await refused({ queue: "numbers", flow: deep as never }, "VALIDATION_FAILED", /at most 10 levels/);
        await refused({ queue: "imports", batch: { jobs: [{ queue: "numbers", name: "square", payload: "x" }] } }, "VALIDATION_FAILED", /^jobs\[0\]: invalid payload for job "square"/);
        assert.deepEqual(await store.listRecords("schedules"), []);

        await a.scheduler.schedule("greetings", { everyMs: MINUTE }, chainTarget);
        const lacking = createConveyor({ store, clock });
        lacking.queue("users").register(fetchUser); // but not greet on "mail"
        await clock.advance(MINUTE);
        await assert.rejects(lacking.scheduler({ autostart: false }).tick(), (error) => isConveyorError(error, "UNKNOWN_JOB"));
        assert.equal((await a.scheduler.get("greetings"))?.runs, 0, "nothing claimed by the node that lacks it");
        assert.equal((await a.scheduler.tick()).length, 1);
        await lacking.close();
      } finally {
        await a.conveyor.close({ timeoutMs: 0 });
      }
    });
  });
}
