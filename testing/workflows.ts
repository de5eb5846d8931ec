// Workflows in the store: chain steps enqueued by the transition that ends the step before,
// parents waiting for their children (flows, batches), and what failures, cancels and removals
// do to the jobs around them. Every store applies core/workflow-rules.ts the same way.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChainStep, ConveyorEventData, FlowNode, Job, NewJob, QueueStore } from "../mod.ts";
import { caseOf, claimOne, count, eventually, fail, LEASE } from "./basics-support.ts";
import { newJob, Q, type StoreUnderTest, T0 } from "./target.ts";

const OTHER = "conformance-other";
const ERROR = { name: "Error", message: "boom" };

/** A chain step as the producer stores it. */
function step(name: string, overrides: Partial<ChainStep> = {}): ChainStep {
  const { id: _i, createdAt: _c, runAt: _r, flow: _f, ...job } = newJob({ name, payload: `${name}-payload` });
  return { queue: Q, job, delayMs: 0, inherit: false, ...overrides };
}

function chained(then: ChainStep[], handlers: { catch?: ChainStep; finally?: ChainStep } = {}): NewJob {
  return newJob({ name: "first", flow: { chain: { then, catch: handlers.catch ?? null, finally: handlers.finally ?? null }, previous: null, parent: null, family: null } });
}

async function completeIn(store: QueueStore, queue: string, job: Job, result: unknown, now = T0) {
  const { finished } = await store.finish(queue, { outcomes: [{ id: job.id, token: job.lease!.token, kind: "completed", result }], now });
  return finished[0];
}

async function claimIn(store: QueueStore, queue: string, now = T0): Promise<readonly Job[]> {
  return (await store.claim(queue, { ...LEASE, limit: 100, now })).jobs;
}

async function only(store: QueueStore, queue: string, state: Job["state"]): Promise<Job> {
  const jobs = await store.list(queue, state, { offset: 0, limit: 10 });
  assert.equal(jobs.length, 1, `expected one ${state} job in ${queue}, found ${jobs.length}`);
  return jobs[0]!;
}

const node = (queue: string, name: string, parent: number | null, extra: Partial<FlowNode> = {}): FlowNode => ({
  queue, job: newJob({ name, payload: name }), parent, onFailure: "fail", batch: false, ...extra,
});

export function workflowCases(target: StoreUnderTest): void {
  const it = caseOf(target);

  it("chain: completing a step enqueues the next, in its queue, with the result and the rest of the chain", async (store) => {
    const finallyStep = step("last", { queue: OTHER, inherit: true });
    await store.enqueue(Q, { jobs: [chained([step("second", { queue: OTHER, inherit: true, delayMs: 50 }), step("third")], { finally: finallyStep })], now: T0 });
    const first = await claimOne(store);
    assert.equal(await completeIn(store, Q, first, { total: 3 }), "completed");
    const second = await only(store, OTHER, "delayed");
    assert.equal(second.name, "second");
    assert.deepEqual(second.payload, { total: 3 }, "an inherited payload is the step before's result");
    assert.equal(second.runAt, T0 + 50);
    assert.deepEqual(second.flow?.previous, { queue: Q, id: first.id, name: "first", state: "completed", result: { total: 3 } });
    assert.deepEqual(second.flow?.chain?.then.map((s) => s.job.name), ["third"]);
    assert.equal(second.flow?.chain?.finally?.job.name, "last");
    const [claimed] = await claimIn(store, OTHER, T0 + 50);
    await completeIn(store, OTHER, claimed!, "two", T0 + 50);
    const third = await only(store, Q, "waiting");
    assert.equal(third.payload, "third-payload", "a step given its own payload keeps it");
    const [running] = await claimIn(store, Q, T0 + 60);
    await completeIn(store, Q, running!, "three", T0 + 60);
    const last = await only(store, OTHER, "waiting");
    assert.deepEqual(last.payload, { state: "completed", result: "three" });
    assert.equal(last.flow?.chain ?? null, null);
  });

  it("chain: a step that fails for good hands its error to catch, then finally; a retry in between does not", async (store) => {
    await store.enqueue(Q, { jobs: [chained([step("never")], { catch: step("rescue", { inherit: true }), finally: step("cleanup", { inherit: true }) })], now: T0 });
    const first = await claimOne(store);
    await fail(store, first.id, first.lease!.token, { error: ERROR, now: T0, retryAt: T0 + 10 });
    assert.equal((await store.counts(Q)).delayed, 1, "a failure with a retry left sets nothing off");
    const again = await claimOne(store, T0 + 10);
    await fail(store, again.id, again.lease!.token, { error: ERROR, now: T0 + 10, retryAt: null });
    const rescue = await only(store, Q, "waiting");
    assert.equal(rescue.name, "rescue");
    assert.deepEqual(rescue.payload, ERROR);
    assert.equal(rescue.flow?.previous?.state, "dead");
    const [claimed] = await claimIn(store, Q, T0 + 20);
    await completeIn(store, Q, claimed!, "rescued", T0 + 20);
    const cleanup = await only(store, Q, "waiting");
    assert.deepEqual([cleanup.name, cleanup.payload], ["cleanup", { state: "completed", result: "rescued" }]);
  });

  it("chain: a cancelled step ends the chain, and so does a removed one", async (store) => {
    const added = await store.enqueue(Q, { jobs: [chained([step("next")], { finally: step("fin") }), chained([step("next")])], now: T0 });
    const [a, b] = added.map((r) => r.job) as [Job, Job];
    await store.cancel(Q, { id: a.id, now: T0 });
    await store.remove(Q, { id: b.id, now: T0 });
    const counts = await store.counts(Q);
    assert.equal(counts.waiting + counts.delayed, 0, "nothing after a cancelled or removed step");
  });

  it("chain: a step that stalls too often goes on to catch", async (store) => {
    await store.enqueue(Q, { jobs: [chained([], { catch: step("rescue", { inherit: true }) })], now: T0 });
    await claimOne(store);
    await store.recoverStalled(Q, { now: T0 + LEASE.leaseMs + 1, maxStalls: 0 });
    const rescue = await only(store, Q, "waiting");
    assert.equal((rescue.payload as { code?: string }).code, "STALLED");
  });

  it("flow: parents wait in waiting-children; children in any queue settle them, in order, and the parent runs with their results", async (store, events) => {
    const jobs = await store.enqueueFlow({ nodes: [node(Q, "parent", null), node(Q, "a", 0), node(OTHER, "b", 0)], now: T0 });
    assert.deepEqual(jobs.map((j) => j.state), ["waiting-children", "waiting", "waiting"]);
    const [parent, a, b] = jobs as [Job, Job, Job];
    assert.deepEqual(parent.flow?.family?.children, [{ queue: Q, id: a.id }, { queue: OTHER, id: b.id }]);
    assert.deepEqual(a.flow?.parent, { queue: Q, id: parent.id, onFailure: "fail" });
    assert.equal((await store.counts(Q))["waiting-children"], 1);
    assert.deepEqual((await store.list(Q, "waiting-children", { offset: 0, limit: 10 })).map((j) => j.id), [parent.id]);
    const [bRun] = await claimIn(store, OTHER);
    await completeIn(store, OTHER, bRun!, "B");
    assert.equal((await store.get(Q, parent.id))?.flow?.family?.pending, 1);
    const [aRun] = await claimIn(store, Q);
    assert.equal(aRun!.id, a.id, "a parent is not claimed while it waits");
    await completeIn(store, Q, aRun!, "A", T0 + 5);
    const ready = await store.get(Q, parent.id);
    assert.equal(ready?.state, "waiting");
    assert.deepEqual(ready?.flow?.family?.outcomes.map((o) => [o.id, o.state, o.result]), [[b.id, "completed", "B"], [a.id, "completed", "A"]]);
    await eventually(() => count(events, "flow.progress") === 2);
    type Progress = { total: number; pending: number; failed: number; child: { id: string } };
    const last = events.filter((e) => e.type === "flow.progress").at(-1) as unknown as Progress;
    assert.deepEqual([last.total, last.pending, last.failed, last.child.id], [2, 0, 0, a.id]);
    const [parentRun] = await claimIn(store, Q, T0 + 5);
    assert.equal(parentRun!.id, parent.id);
  });

  it("flow: a failing child with onFailure 'fail' fails the parent and cancels its other children", async (store) => {
    const [parent, a, b] = await store.enqueueFlow({ nodes: [node(Q, "parent", null), node(Q, "a", 0), node(OTHER, "b", 0)], now: T0 }) as [Job, Job, Job];
    const [aRun] = await claimIn(store, Q);
    await fail(store, aRun!.id, aRun!.lease!.token, { error: ERROR, now: T0, retryAt: null });
    const failed = await store.get(Q, parent.id);
    assert.equal(failed?.state, "dead");
    assert.equal(failed?.lastError?.code, "CHILD_FAILED");
    assert.equal(failed?.dead?.reason, "child-failed");
    assert.equal((await store.get(OTHER, b.id))?.state, "cancelled", "the parent's pending child is cancelled");
    assert.equal((await store.get(Q, a.id))?.state, "dead");
  });

  it("flow: 'ignore' leaves a failure out of the parent's results, 'continue' reports it; the parent runs either way", async (store) => {
    const [parent, a, b] = await store.enqueueFlow({
      nodes: [node(Q, "parent", null), node(Q, "a", 0, { onFailure: "ignore" }), node(Q, "b", 0, { onFailure: "continue" })], now: T0,
    }) as [Job, Job, Job];
    await store.cancel(Q, { id: a.id, now: T0 });
    const [bRun] = await claimIn(store, Q);
    await fail(store, bRun!.id, bRun!.lease!.token, { error: ERROR, now: T0, retryAt: null });
    const ready = await store.get(Q, parent.id);
    assert.equal(ready?.state, "waiting");
    assert.deepEqual(ready?.flow?.family?.outcomes.map((o) => [o.id, o.state, o.error?.message]), [[b.id, "dead", "boom"]]);
    assert.equal(ready?.flow?.family?.failed, 2);
  });

  it("flow: cancelling a parent cancels its pending and running children; their ends change nothing", async (store) => {
    const [parent, a, b] = await store.enqueueFlow({ nodes: [node(Q, "parent", null), node(Q, "a", 0), node(Q, "b", 0)], now: T0 }) as [Job, Job, Job];
    const [running] = await claimIn(store, Q);
    assert.equal((await store.cancel(Q, { id: parent.id, now: T0 })).status, "cancelled");
    assert.equal((await store.get(Q, a.id))?.state, "cancelled");
    assert.equal((await store.get(Q, b.id))?.state, "cancelled");
    assert.equal(await completeIn(store, Q, running!, "late"), null, "a cancelled child's lease no longer holds");
    assert.equal((await store.get(Q, parent.id))?.state, "cancelled");
  });

  it("flow: nested parents settle upwards; a child deleted at once by retention still reports its result", async (store) => {
    const leaf = node(OTHER, "leaf", 1);
    const [root, middle] = await store.enqueueFlow({
      nodes: [node(Q, "root", null), node(Q, "middle", 0), { ...leaf, job: { ...leaf.job, removeOnComplete: { count: 0, ageMs: null } } }], now: T0,
    }) as [Job, Job, Job];
    assert.equal(middle.state, "waiting-children");
    const [leafRun] = await claimIn(store, OTHER);
    await completeIn(store, OTHER, leafRun!, { leaf: true });
    assert.equal(await store.get(OTHER, leafRun!.id), null, "retention deleted the leaf");
    const [middleRun] = await claimIn(store, Q);
    assert.equal(middleRun!.id, middle.id);
    assert.deepEqual(middleRun!.flow?.family?.outcomes[0]?.result, { leaf: true });
    await completeIn(store, Q, middleRun!, "middle done");
    assert.equal((await store.get(Q, root.id))?.state, "waiting");
  });

  it("flow: removing a pending child settles its parent as cancelled", async (store) => {
    const [parent, a] = await store.enqueueFlow({ nodes: [node(Q, "parent", null), node(Q, "a", 0, { onFailure: "continue" })], now: T0 }) as [Job, Job];
    assert.equal((await store.remove(Q, { id: a.id, now: T0 })).status, "removed");
    const ready = await store.get(Q, parent.id);
    assert.equal(ready?.state, "waiting");
    assert.equal(ready?.flow?.family?.outcomes[0]?.state, "cancelled");
  });

  it("batch: ends by itself, completed when every job did (then runs), failed when one failed (catch runs)", async (store, events) => {
    const chain = { then: [step("then", { inherit: true })], catch: step("catch", { inherit: true }), finally: null };
    const batchNode = (): FlowNode => ({ ...node(Q, "batch", null, { batch: true }), job: { ...newJob({ name: "batch", payload: null, deadLetter: false }), flow: { chain, previous: null, parent: null, family: null } } });
    const [ok] = await store.enqueueFlow({ nodes: [batchNode(), node(OTHER, "a", 0), node(OTHER, "b", 0)], now: T0 }) as [Job];
    for (const job of await claimIn(store, OTHER)) await completeIn(store, OTHER, job, job.name);
    const done = await store.get(Q, ok.id);
    assert.equal(done?.state, "completed");
    assert.deepEqual(done?.result, { total: 2, completed: 2, failed: 0 });
    const then = await only(store, Q, "waiting");
    assert.deepEqual([then.name, then.payload], ["then", { total: 2, completed: 2, failed: 0 }]);
    await eventually(() => count(events, "batch.progress") === 2);

    await store.cancel(Q, { id: then.id, now: T0 });
    const [bad] = await store.enqueueFlow({ nodes: [batchNode(), node(OTHER, "c", 0, { onFailure: "continue" }), node(OTHER, "d", 0, { onFailure: "continue" })], now: T0 }) as [Job];
    const [c, d] = await claimIn(store, OTHER);
    await store.finish(OTHER, { outcomes: [{ id: c!.id, token: c!.lease!.token, kind: "failed", error: ERROR, retryAt: null }], now: T0 });
    assert.equal((await store.get(Q, bad.id))?.state, "waiting-children", "allowFailures: the batch goes on");
    await completeIn(store, OTHER, d!, "d");
    const ended = await store.get(Q, bad.id);
    assert.equal(ended?.state, "failed", "a batch with failures ends failed, and is no dead letter");
    assert.equal(ended?.lastError?.code, "BATCH_FAILED");
    assert.equal((await only(store, Q, "waiting")).name, "catch");
  });

  if (target.reopen) {
    test("workflows survive a restart of the store: a waiting parent, its children and a chain's rest", async () => {
      let store = await target.create();
      try {
        const [parent, a] = await store.enqueueFlow({ nodes: [node(Q, "parent", null), node(OTHER, "a", 0)], now: T0 }) as [Job, Job];
        await store.enqueue(Q, { jobs: [chained([step("next", { inherit: true })])], now: T0 });
        store = await target.reopen!(store);
        assert.equal((await store.get(Q, parent.id))?.state, "waiting-children");
        const [aRun] = await claimIn(store, OTHER);
        assert.equal(aRun!.id, a.id);
        await completeIn(store, OTHER, aRun!, "A");
        assert.equal((await store.get(Q, parent.id))?.state, "waiting");
        const claimed = await claimIn(store, Q);
        const first = claimed.find((j) => j.name === "first")!;
        await completeIn(store, Q, first, 42);
        const next = (await store.list(Q, "waiting", { offset: 0, limit: 10 })).find((j) => j.name === "next");
        assert.equal(next?.payload, 42);
      } finally {
        await store.close();
      }
    });
  }
}
