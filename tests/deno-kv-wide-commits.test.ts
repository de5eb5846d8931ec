// The Deno KV store sizes its claim, finish and clean commits by what the backend takes: 100
// checks on Deno, 10 through @deno/kv (found by trying, kv.ts). Wide commits also count the bytes
// of the jobs they write, so big jobs still fit the 800 KiB one commit holds.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DenoKvStore } from "../src/store/deno-kv/store.ts";
import { checksPerCommit } from "../src/store/deno-kv/kv.ts";
import { newJob } from "../testing/mod.ts";
import { type ClosableKv, openDenoKv, tempKvPath } from "./support/deno-kv.ts";
import { runtime } from "./support/runtime.ts";

const T0 = 1_700_000_000_000;

describe("Deno KV store: commits as wide as the backend allows", () => {
  const file = tempKvPath();
  let kv: ClosableKv;
  before(async () => {
    kv = await openDenoKv(file.path);
  });
  after(() => {
    kv.close();
    file.remove();
  });

  test("the backend's check limit is found by trying, and writes nothing", async () => {
    const checks = await checksPerCommit(kv, "probe");
    assert.equal(checks, runtime === "deno" ? 100 : 10, `checks per commit on ${runtime}`);
    for await (const _ of kv.list({ prefix: ["probe"] })) assert.fail("the probe wrote a key");
  });

  for (const [label, bytes, count] of [["small", 10, 250], ["50 KiB", 50_000, 40]] as const) {
    test(`${count} ${label} jobs: one claim takes all it may, finish records them all`, async () => {
      const store = new DenoKvStore({ kv, prefix: `wide-${label}-${crypto.randomUUID().slice(0, 8)}` });
      try {
        const jobs = Array.from({ length: count }, (_, i) => newJob({ payload: { i, pad: "x".repeat(bytes) }, createdAt: T0, runAt: T0 }));
        await store.enqueue("q", { jobs, now: T0 });
        await new Promise((resolve) => setTimeout(resolve, 50)); // the probe answers first
        const { jobs: claimed } = await store.claim("q", { workerId: "w", limit: count, leaseMs: 60_000, now: T0 + 1 });
        assert.equal(claimed.length, count, "every waiting job claimed");
        assert.equal(new Set(claimed.map((j) => j.id)).size, count, "each once");
        const outcomes = claimed.map((job) => ({ kind: "completed" as const, id: job.id, token: job.lease!.token, result: { ok: job.id } }));
        const { finished } = await store.finish("q", { outcomes, now: T0 + 2 });
        assert.deepEqual(new Set(finished), new Set(["completed"]));
        const counts = await store.counts("q");
        assert.deepEqual([counts.waiting, counts.active, counts.completed], [0, 0, count]);
      } finally {
        await store.close();
      }
    });
  }
});
