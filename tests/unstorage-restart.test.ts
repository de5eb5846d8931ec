// UnstorageStore across a real process restart, with unstorage's fs driver.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs-lite";
import { createConveyor, isConveyorError } from "../mod.ts";
import { UnstorageStore } from "../src/store/unstorage.ts";
import { work } from "./fixtures/work-job.ts";
import { waitUntil } from "./support/harness.ts";
import { startScript } from "./support/processes.ts";

// A heartbeat a second apart (a claim lapses after 3): a loaded machine can hold an event loop
// back for a few hundred milliseconds, which must not look like a dead owner.
const HEARTBEAT_MS = 1_000;
const open = (dir: string) => UnstorageStore.open({ storage: createStorage({ driver: fsDriver({ base: dir }) }), heartbeatMs: HEARTBEAT_MS });

test("jobs persisted with the fs driver survive a SIGKILL of their process; a second live process is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-unstorage-"));
  const producer = startScript("tests/fixtures/unstorage-producer.ts", { DIR: dir, HEARTBEAT_MS: String(HEARTBEAT_MS) });
  try {
    await producer.waitFor("produced");
    await assert.rejects(open(dir), (e) => isConveyorError(e, "UNSAFE_SETUP") && /RedisStore or DenoKvStore/.test(e.message));
    await producer.kill("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_MS + 200)); // its claim goes stale after 3 heartbeats

    const store = await open(dir);
    const conveyor = createConveyor({ store });
    const main = conveyor.queue("main");
    const poison = conveyor.queue("poison");
    const counts = await main.counts();
    assert.equal(counts.waiting, 5);
    assert.equal(counts.delayed, 3);
    assert.deepEqual((await main.list("waiting")).map((j) => j.payload), [{ n: 4 }, { n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }], "priority order kept");
    const dead = await poison.list("dead");
    assert.equal(dead.length, 2);
    assert.ok(dead.every((j) => j.dead?.reason === "unrecoverable" && j.lastError?.message === "cannot be processed"));

    const ran: number[] = [];
    conveyor.worker(main).handle(work, ({ n }) => void ran.push(n));
    await waitUntil(async () => (await main.counts()).completed === 5, 10_000, "the 5 waiting jobs to complete");
    assert.deepEqual(ran, [4, 0, 1, 2, 3]);
    await poison.retry(dead[0]!.id);
    await conveyor.close();

    const reopened = await open(dir);
    const again = createConveyor({ store: reopened });
    const after = await again.queue("main").counts();
    assert.deepEqual([after.completed, after.delayed, after.waiting], [5, 3, 0], "what the second process did was persisted too");
    assert.equal((await again.queue("poison").counts()).waiting, 1, "the retried dead job is waiting");
    await again.close();
  } finally {
    await producer.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
