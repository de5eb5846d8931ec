// Cases for stores that declare `sharedAcrossProcesses`: two stores over the same data, as two
// processes would hold them, never run a job twice under a valid lease and hear each other.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConveyorEventData, QueueStore } from "../mod.ts";
import { newJob, Q, type StoreUnderTest, T0, waitFor } from "./target.ts";

async function withPair(target: StoreUnderTest, body: (a: QueueStore, b: QueueStore) => Promise<void>) {
  const a = await target.create();
  const b = await target.sibling!(a);
  try {
    await body(a, b);
  } finally {
    await b.close();
    await a.close();
  }
}

export function sharingCases(target: StoreUnderTest): void {
  const it = (name: string, body: (a: QueueStore, b: QueueStore) => Promise<void>) =>
    test(`shared: ${name}`, () => withPair(target, body));

  it("a job enqueued through one is claimed and finished through the other", async (a, b) => {
    const [added] = await a.enqueue(Q, { jobs: [newJob()], now: T0 });
    const { jobs } = await b.claim(Q, { workerId: "w", limit: 5, leaseMs: 1_000, now: T0 });
    assert.deepEqual(jobs.map((j) => j.id), [added!.job.id]);
    await b.finish(Q, {
      now: T0 + 1,
      outcomes: [{ id: jobs[0]!.id, token: jobs[0]!.lease!.token, kind: "completed", result: 1 }],
    });
    assert.equal((await a.get(Q, added!.job.id))?.state, "completed");
  });

  it("racing claims from both never hand out one job twice", async (a, b) => {
    await a.enqueue(Q, { jobs: Array.from({ length: 120 }, () => newJob()), now: T0 });
    const claimed: string[] = [];
    const drain = async (store: QueueStore, worker: string) => {
      for (let round = 0; round < 200; round++) {
        const { jobs } = await store.claim(Q, { workerId: worker, limit: 7, leaseMs: 60_000, now: T0 });
        if (jobs.length === 0 && (await store.counts(Q)).waiting === 0) return;
        claimed.push(...jobs.map((j) => j.id));
      }
    };
    await Promise.all([drain(a, "wa"), drain(b, "wb"), drain(a, "wa2"), drain(b, "wb2")]);
    assert.equal(claimed.length, 120, "every job claimed");
    assert.equal(new Set(claimed).size, 120, "no job claimed twice");
  });

  it("events of one reach subscribers of the other, in order", async (a, b) => {
    const heard: ConveyorEventData[] = [];
    const subscription = b.subscribe(Q, (event) => heard.push(event));
    await subscription.ready;
    const added = await a.enqueue(Q, { jobs: [newJob(), newJob(), newJob()], now: T0 });
    await waitFor(() => heard.length >= 3, "3 enqueued events");
    assert.deepEqual(heard.map((e) => "jobId" in e && e.jobId), added.map((r) => r.job.id));
    subscription.close();
  });

  it("a lapsed lease taken through one can no longer finish the job through the other", async (a, b) => {
    await a.enqueue(Q, { jobs: [newJob()], now: T0 });
    const [job] = (await a.claim(Q, { workerId: "wa", limit: 1, leaseMs: 1_000, now: T0 })).jobs;
    const { requeued } = await b.recoverStalled(Q, { now: T0 + 1_000, maxStalls: 1 });
    assert.deepEqual(requeued.map((j) => j.id), [job!.id]);
    const late = await a.finish(Q, {
      now: T0 + 1_001,
      outcomes: [{ id: job!.id, token: job!.lease!.token, kind: "completed", result: 1 }],
    });
    assert.deepEqual(late.finished, [null], "the old lease holder is fenced off");
  });

  it("compare-and-set from both: exactly one wins each round", async (a, b) => {
    let wins = 0;
    for (let round = 0; round < 10; round++) {
      const current = await a.getRecord("cas", "k");
      const results = await Promise.all(
        [a, b].map((store) => store.compareAndSetRecord("cas", "k", current, { round })),
      );
      wins += results.filter(Boolean).length;
      assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
    }
    assert.equal(wins, 10);
  });
}
