// A worker runs a job only while it is sure its lease holds, timed on its own clock from when it asked.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createConveyor, FakeClock, isConveyorError, MemoryStore } from "../mod.ts";
import { deferred, eventually } from "./support/harness.ts";
import { echo } from "./support/jobs.ts";

test("a claim answered after half a lease gives its jobs back unrun; they run on a later claim", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const conveyor = createConveyor({ store, clock });
  const queue = conveyor.queue("q");
  await queue.add(echo, { n: 1 });
  const realClaim = store.claim.bind(store);
  const gate = deferred();
  let claims = 0;
  // The first claim is granted at once but its answer is held back (a paused store, a slow network).
  store.claim = async (q, request) => {
    const result = await realClaim(q, request);
    if (claims++ === 0) await gate.promise;
    return result;
  };
  const runs: number[] = [];
  // Which claim's lease each run was on.
  conveyor.worker("q", { leaseMs: 1_000, stallCheckMs: 500 }).handle(echo, () => void runs.push(claims));
  await eventually(clock, () => claims === 1);
  await clock.advance(600);
  gate.resolve();
  await eventually(clock, () => runs.length === 1);
  assert.deepEqual(runs, [2], "run on the second claim's lease, not the late one");
  const job = (await queue.list("completed"))[0];
  assert.equal(job?.stalls, 0, "given back, not stalled");
  assert.equal(job?.attemptsMade, 1, "the late claim spent no attempt");
  await conveyor.close({ timeoutMs: 0 });
});

test("a job whose renewals go unanswered for a whole lease is aborted with LEASE_LOST", async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const conveyor = createConveyor({ store, clock });
  const queue = conveyor.queue("q");
  store.extendLeases = () => new Promise(() => {}); // the store stopped answering renewals
  let reason: unknown;
  const running = deferred();
  conveyor.worker("q", { leaseMs: 900, stallCheckMs: 60_000 }).handle(echo, (_payload, ctx) =>
    new Promise((_resolve, reject) => {
      running.resolve();
      ctx.signal.addEventListener("abort", () => reject(reason = ctx.signal.reason));
    }));
  await queue.add(echo, { n: 1 });
  await running.promise;
  await clock.advance(600);
  assert.equal(reason, undefined, "still sure of its lease");
  await clock.advance(400);
  const after = reason as unknown; // set by the handler meanwhile
  assert.ok(isConveyorError(after, "LEASE_LOST"), `aborted with ${after}`);
  await conveyor.close({ timeoutMs: 0 });
});
