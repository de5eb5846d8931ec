// Workflows on Deno KV beyond what the conformance suite sees: flows and cascades larger than
// one commit (10 checks, 1,000 writes, 800 KiB), and processes that die between the commit of
// a transition and the commits that apply its effects. Whatever dies where, a fresh store on
// the same file finishes the work, and every effect lands exactly once: each state's counter
// (moved by every transition) equals the jobs listed in that state, and no id appears twice.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ConveyorEventData, FakeClock, type FlowNode, type Job, type JobState, type QueueStore } from "../mod.ts";
import { DenoKvStore } from "../src/store/deno-kv/store.ts";
import type { DenoKv, KvAtomicOperation } from "../src/store/deno-kv/kv.ts";
import { newJob } from "../testing/mod.ts";
import { type ClosableKv, openDenoKv, tempKvPath } from "./support/deno-kv.ts";

const T0 = 1_700_000_000_000;
const PARENTS = "parents";
const KIDS = "kids";
const LEASE = { workerId: "w1", leaseMs: 3_600_000 };
const STATES: readonly JobState[] = [
  "waiting",
  "delayed",
  "active",
  "waiting-children",
  "completed",
  "failed",
  "dead",
  "cancelled",
];

/**
 * A connection whose process can be killed at a chosen commit: that commit throws (having
 * landed first, with `lands`, so the process dies not knowing it did), and so does every call
 * after it.
 */
function mortal(inner: DenoKv) {
  let left = Infinity;
  let lands = false;
  let dead = false;
  const alive = () => {
    if (dead) throw new Error("simulated crash: this process is gone");
  };
  const kv: DenoKv = {
    get: async (key) => (alive(), await inner.get(key)),
    list: (selector, options) =>
      (async function* () {
        alive();
        yield* inner.list(selector, options);
      })(),
    atomic: () => {
      const op = inner.atomic();
      const wrapped: KvAtomicOperation = {
        check: (...checks) => (op.check(...checks), wrapped),
        set: (key, value, options) => (op.set(key, value, options), wrapped),
        delete: (key) => (op.delete(key), wrapped),
        sum: (key, n) => (op.sum(key, n), wrapped),
        commit: async () => {
          alive();
          if (--left > 0) return await op.commit();
          if (lands) await op.commit();
          dead = true;
          throw new Error("simulated crash: this process is gone");
        },
      };
      return wrapped;
    },
  };
  return {
    kv,
    /** The `n`th commit from now is the process's last. */
    dieAt(n: number, options: { lands: boolean }) {
      left = n;
      lands = options.lands;
    },
  };
}

function batch(children: number, extra: Partial<FlowNode> = {}): FlowNode[] {
  return [
    {
      queue: PARENTS,
      job: newJob({ name: "root", payload: null }),
      parent: null,
      onFailure: "fail",
      batch: true,
      ...extra,
    },
    ...Array.from({ length: children }, (_, i): FlowNode => ({
      queue: KIDS,
      job: newJob({ name: `kid-${i}`, payload: i }),
      parent: 0,
      onFailure: "continue",
      batch: false,
    })),
  ];
}

async function all(store: QueueStore, queue: string, state: JobState): Promise<Job[]> {
  return await store.list(queue, state, { offset: 0, limit: 1_000_000 });
}

/** Nothing lost or doubled: each counter equals its listing, no id twice; returns the counts. */
async function exact(store: QueueStore, queue: string): Promise<Record<JobState, number>> {
  const counts = await store.counts(queue);
  const ids = new Set<string>();
  let listed = 0;
  for (const state of STATES) {
    const jobs = await all(store, queue, state);
    assert.equal(
      counts[state],
      jobs.length,
      `${queue}: the ${state} counter says ${counts[state]}, the index lists ${jobs.length}`,
    );
    for (const job of jobs) ids.add(job.id);
    listed += jobs.length;
  }
  assert.equal(ids.size, listed, `${queue}: an id is listed twice`);
  return counts;
}

/** The workflow work left in the database: outbox entries, staged flows, drafts. */
async function leftovers(kv: DenoKv, prefix: string): Promise<number> {
  let n = 0;
  for (const part of ["outbox", "flow", "flow-draft"]) for await (const _ of kv.list({ prefix: [prefix, part] })) n++;
  return n;
}

async function claimAll(store: QueueStore, queue: string, now = T0): Promise<Job[]> {
  const jobs: Job[] = [];
  for (;;) {
    const claimed = (await store.claim(queue, { ...LEASE, limit: 500, now })).jobs;
    if (claimed.length === 0) return jobs;
    jobs.push(...claimed);
  }
}

async function completeAll(store: QueueStore, queue: string, jobs: readonly Job[], now = T0): Promise<void> {
  for (let i = 0; i < jobs.length; i += 100) {
    const outcomes = jobs.slice(i, i + 100).map((job) => ({
      id: job.id,
      token: job.lease!.token,
      kind: "completed" as const,
      result: `${job.name} done`,
    }));
    await store.finish(queue, { outcomes, now });
  }
}

describe("Deno KV workflows beyond one commit, and across crashes", () => {
  const file = tempKvPath();
  let kv: ClosableKv;
  let second: ClosableKv;
  const stores: QueueStore[] = [];
  before(async () => {
    kv = await openDenoKv(file.path);
    // Another connection to the same file, as a process started after a crash opens it.
    second = await openDenoKv(file.path);
  });
  after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    kv.close();
    second.close();
    file.remove();
  });
  const open = (on: DenoKv, prefix: string, clock?: FakeClock) => {
    const store = new DenoKvStore({ kv: on, prefix, ...(clock ? { clock } : {}) });
    stores.push(store);
    return store;
  };
  const freshPrefix = () => `wf-${crypto.randomUUID().slice(0, 8)}`;

  test("a flow of 10,000 jobs, its producer killed half-way: a claim elsewhere writes the rest before it takes any", async () => {
    const prefix = freshPrefix();
    const producer = mortal(kv);
    const store = open(producer.kv, prefix);
    const nodes = batch(9_999);
    // Ids, a draft, some 20 slices staged, the seal, then some 40 slices moved: die among those.
    producer.dieAt(40, { lands: false });
    await assert.rejects(store.enqueueFlow({ nodes, now: T0 }), /simulated crash/);

    const other = open(second, prefix);
    const written = (await other.counts(KIDS)).waiting;
    assert.ok(
      written > 0 && written < 9_999,
      `the producer died half-way through writing its jobs (${written} of 9,999 in)`,
    );
    const claimed = (await other.claim(KIDS, { ...LEASE, limit: 5, now: T0 })).jobs;
    assert.equal(claimed.length, 5);
    assert.deepEqual(await leftovers(second, prefix), 0, "the flow is whole, its staging gone");
    const kids = await exact(other, KIDS);
    assert.deepEqual([kids.waiting, kids.active], [9_994, 5]);
    const [root] = await all(other, PARENTS, "waiting-children");
    assert.equal(root?.flow?.family?.children.length, 9_999);
    assert.equal(root?.flow?.family?.pending, 9_999);
    assert.deepEqual(new Set(root!.flow!.family!.children.map((ref) => ref.id)).size, 9_999);
  });

  test("a producer killed while staging leaves no job; its draft is swept an hour later", async () => {
    const prefix = freshPrefix();
    const clock = new FakeClock({ startMs: T0 });
    const producer = mortal(kv);
    const store = open(producer.kv, prefix, clock);
    // The ids, the draft, one slice staged; the second slice never lands.
    producer.dieAt(4, { lands: false });
    await assert.rejects(store.enqueueFlow({ nodes: batch(2_000), now: T0 }), /simulated crash/);
    const other = open(second, prefix, clock);
    await other.recoverStalled(KIDS, { now: T0, maxStalls: 1 });
    assert.ok(await leftovers(second, prefix) > 0, "a young draft may still be its producer's");
    assert.equal((await exact(other, KIDS)).waiting, 0);
    await clock.advance(3_600_001);
    await other.recoverStalled(KIDS, { now: clock.now(), maxStalls: 1 });
    assert.equal(await leftovers(second, prefix), 0);
    assert.equal((await exact(other, PARENTS))["waiting-children"], 0);
  });

  test("cancelling a batch of 1,200 jobs: the cascade takes many commits and cancels each job once", async () => {
    const prefix = freshPrefix();
    const store = open(kv, prefix);
    const [root] = await store.enqueueFlow({ nodes: batch(1_200), now: T0 });
    const events: ConveyorEventData[] = [];
    const subscription = store.subscribe(KIDS, (event) => events.push(event), ["cancelled"]);
    await subscription.ready;
    assert.equal((await store.cancel(PARENTS, { id: root!.id, now: T0 + 1 })).status, "cancelled");
    subscription.close();
    assert.equal((await exact(store, KIDS)).cancelled, 1_200);
    assert.equal(events.length, 1_200, "one cancelled event per job");
    assert.equal(await leftovers(kv, prefix), 0);
  });

  test("a parent of 1,500 children: settled once per child, its family kept beside its record and whole when read", async () => {
    const prefix = freshPrefix();
    const store = open(kv, prefix);
    const then = { queue: KIDS, job: { ...newJob({ name: "after" }) }, delayMs: 0, inherit: false };
    const nodes = batch(1_500, {
      batch: false,
      job: newJob({
        name: "root",
        flow: { chain: { then: [then], catch: null, finally: null }, previous: null, parent: null, family: null },
      }),
    });
    const [root] = await store.enqueueFlow({ nodes, now: T0 });
    const kids = await claimAll(store, KIDS);
    assert.equal(kids.length, 1_500);
    await completeAll(store, KIDS, kids.reverse());
    const [ready] = await store.claim(PARENTS, { ...LEASE, limit: 1, now: T0 }).then((r) => r.jobs);
    assert.equal(ready?.id, root!.id);
    const outcomes = ready!.flow!.family!.outcomes;
    assert.equal(outcomes.length, 1_500);
    assert.deepEqual(
      outcomes.slice(0, 2).map((o) => [o.id, o.result]),
      kids.slice(0, 2).map((k) => [k.id, `${k.name} done`]),
      "in the order they ended",
    );
    assert.equal(ready!.flow!.family!.pending, 0);
    await store.finish(PARENTS, {
      outcomes: [{ id: ready!.id, token: ready!.lease!.token, kind: "completed", result: 1 }],
      now: T0,
    });
    assert.equal((await all(store, KIDS, "waiting")).map((job) => job.name).join(), "after", "its chain went on once");
    // Removing the parent deletes its family's keys too.
    assert.equal((await store.remove(PARENTS, { id: root!.id, now: T0 })).status, "removed");
    let family = 0;
    for (const part of ["kids", "outs"]) {
      for await (const _ of kv.list({ prefix: [prefix, "q", PARENTS, part] })) family++;
    }
    assert.equal(family, 0);
    assert.equal(await leftovers(kv, prefix), 0);
  });

  test("two processes at the same cascade at once: they conflict, and each job is still cancelled once", async () => {
    const prefix = freshPrefix();
    const store = open(kv, prefix);
    const other = open(second, prefix);
    const [root] = await store.enqueueFlow({ nodes: batch(600), now: T0 });
    const cancelling = store.cancel(PARENTS, { id: root!.id, now: T0 });
    let done = false;
    void cancelling.finally(() => (done = true));
    // The other sweeps the outbox over and over while the cascade runs.
    while (!done) await other.recoverStalled(KIDS, { now: T0, maxStalls: 1 });
    assert.equal((await cancelling).status, "cancelled");
    assert.equal((await exact(other, KIDS)).cancelled, 600);
    assert.equal(await leftovers(kv, prefix), 0);
  });

  for (const lands of [false, true]) {
    const how = lands ? "its last commit landed unknown to it" : "its last commit never landed";
    test(`killed between a transition and its effects (${how}): a fresh store applies each effect once`, async () => {
      const prefix = freshPrefix();
      const dying = mortal(kv);
      const store = open(dying.kv, prefix);
      const then = { queue: KIDS, job: newJob({ name: "next" }), delayMs: 0, inherit: true };
      await store.enqueue(KIDS, {
        jobs: [
          newJob({
            name: "step",
            flow: { chain: { then: [then], catch: null, finally: null }, previous: null, parent: null, family: null },
          }),
        ],
        now: T0,
      });
      const nodes = batch(3, {
        job: {
          ...newJob({ name: "root", payload: null }),
          flow: {
            chain: { then: [{ ...then, job: newJob({ name: "after-batch" }) }], catch: null, finally: null },
            previous: null,
            parent: null,
            family: null,
          },
        },
      });
      const [root] = await store.enqueueFlow({ nodes, now: T0 });
      const [step, ...kids] = (await store.claim(KIDS, { ...LEASE, limit: 4, now: T0 })).jobs;
      assert.deepEqual([step?.name, kids.length], ["step", 3]);

      // One finish: four transitions in one commit, whose effects (a chain step, three settles,
      // and through the last settle the batch's end and its own chain step) follow in the next.
      const outcomes = [step!, ...kids].map((job) => ({
        id: job.id,
        token: job.lease!.token,
        kind: "completed" as const,
        result: job.id,
      }));
      dying.dieAt(2, { lands });
      await assert.rejects(store.finish(KIDS, { outcomes, now: T0 }), /simulated crash/);

      const fresh = open(second, prefix);
      const before = await exact(fresh, KIDS);
      assert.equal(before.completed, 4, "the transitions' commit landed");
      // Two sweeps: the first does what is left, the second finds nothing to do again.
      await fresh.recoverStalled(KIDS, { now: T0, maxStalls: 1 });
      await fresh.recoverStalled(PARENTS, { now: T0, maxStalls: 1 });
      const waiting = (await all(fresh, KIDS, "waiting")).map((job) => job.name).sort();
      assert.deepEqual(waiting, ["after-batch", "next"], "each chain step enqueued once");
      const ended = await fresh.get(PARENTS, root!.id);
      assert.equal(ended?.state, "completed");
      assert.deepEqual(
        ended?.flow?.family?.outcomes.map((o) => o.id).sort(),
        kids.map((k) => k.id).sort(),
        "each child settled its parent once",
      );
      await exact(fresh, KIDS);
      await exact(fresh, PARENTS);
      assert.equal(await leftovers(second, prefix), 0);
    });

    test(`killed in the middle of a cascade of 1,000 cancels (${how}): a fresh store finishes it, each job cancelled once`, async () => {
      const prefix = freshPrefix();
      const dying = mortal(kv);
      const store = open(dying.kv, prefix);
      const [root] = await store.enqueueFlow({ nodes: batch(1_000), now: T0 });
      // The cancel's own commit, then some 125 commits of 8 cancels: die at the 40th.
      dying.dieAt(40, { lands });
      await assert.rejects(store.cancel(PARENTS, { id: root!.id, now: T0 }), /simulated crash/);
      const fresh = open(second, prefix);
      const halfway = (await exact(fresh, KIDS)).cancelled;
      assert.ok(halfway > 0 && halfway < 1_000, `the cascade was cut short (${halfway} of 1,000 cancelled)`);
      await fresh.recoverStalled(PARENTS, { now: T0, maxStalls: 1 });
      const counts = await exact(fresh, KIDS);
      assert.deepEqual([counts.cancelled, counts.waiting], [1_000, 0]);
      assert.equal((await exact(fresh, PARENTS)).cancelled, 1);
      assert.equal(await leftovers(second, prefix), 0);
    });
  }
});
