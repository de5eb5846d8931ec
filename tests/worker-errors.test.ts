// A worker reports store failures to its `error` listeners, and to the console only when it has none.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createConveyor, FakeClock, MemoryStore } from "../mod.ts";
import { eventually } from "./support/harness.ts";
import { echo } from "./support/jobs.ts";

async function failingWorker() {
  const clock = new FakeClock();
  const store = new MemoryStore();
  store.claim = () => Promise.reject(new Error("connection reset"));
  const conveyor = createConveyor({ store, clock });
  const worker = conveyor.worker("q", { errorRetryMs: 1_000 }).handle(echo, () => {});
  return { clock, conveyor, worker };
}

/** Console errors printed while `body` runs. */
async function consoleErrors(printed: unknown[][], body: () => Promise<void>): Promise<void> {
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    await body();
  } finally {
    console.error = original;
  }
}

test("a removed error listener no longer counts: errors go back to the console", async () => {
  const { clock, conveyor, worker } = await failingWorker();
  const heard: unknown[] = [];
  const listener = (e: Event) => void heard.push(e);
  const printed: unknown[][] = [];
  await consoleErrors(printed, async () => {
    worker.addEventListener("error", listener);
    worker.addEventListener("error", listener); // the same listener twice is one listener
    await eventually(clock, () => heard.length === 1);
    worker.removeEventListener("error", listener);
    await clock.advance(1_000);
    await eventually(clock, () => printed.length >= 1);
  });
  assert.equal(heard.length, 1);
  assert.match(String(printed[0]), /connection reset/);
  await conveyor.close({ timeoutMs: 0 });
});

test("`once` and `signal` listeners stop counting when they end", async () => {
  const { clock, conveyor, worker } = await failingWorker();
  const heard: string[] = [];
  const controller = new AbortController();
  const printed: unknown[][] = [];
  await consoleErrors(printed, async () => {
    worker.addEventListener("error", () => heard.push("once"), { once: true });
    await eventually(clock, () => heard.length === 1);
    worker.addEventListener("error", () => heard.push("signal"), { signal: controller.signal });
    await clock.advance(1_000);
    await eventually(clock, () => heard.length === 2);
    controller.abort();
    await clock.advance(1_000);
    await eventually(clock, () => printed.length >= 1);
  });
  assert.deepEqual(heard, ["once", "signal"]);
  await conveyor.close({ timeoutMs: 0 });
});
