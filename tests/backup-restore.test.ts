// Backup and restore: every pair of stores (memory, Redis, Deno KV, unstorage) round-trips jobs in
// every state, priorities, due times, dedup keys, attempts, a paused queue, schedules and the audit
// log; a bad archive (cut short, wrong version, a corrupt line) names its line and imports nothing.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FakeClock, MemoryStore, type QueueStore } from "../mod.ts";
import { backup, BackupFormatError, restore } from "../maintenance.ts";
import { backends } from "./support/backends.ts";
import { fillStore, snapshot, T0 } from "./support/backup-fixture.ts";
import { newJob } from "./support/store-conformance.ts";

async function archiveOf(store: QueueStore): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  await backup(store, new WritableStream({ write: (chunk) => void chunks.push(chunk) }), { queues: ["emails"], clock: new FakeClock({ startMs: T0 }) });
  return chunks;
}

const streamOf = (chunks: readonly Uint8Array[]) => new Blob(chunks as unknown as BlobPart[]).stream();

/** An archive from JSON lines, compressed as backup would. */
async function gzipLines(lines: readonly unknown[]): Promise<Uint8Array[]> {
  const text = lines.map((line) => typeof line === "string" ? line : JSON.stringify(line)).join("\n") + "\n";
  const gz = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return [new Uint8Array(await new Response(gz).arrayBuffer())];
}

async function linesOf(chunks: readonly Uint8Array[]): Promise<string[]> {
  const text = await new Response(streamOf(chunks).pipeThrough(new DecompressionStream("gzip"))).text();
  return text.split("\n").filter(Boolean);
}

describe("backup and restore between stores", () => {
  before(async () => {
    for (const backend of backends) await backend.setup();
  });
  after(async () => {
    for (const backend of backends) await backend.teardown();
  });

  for (const from of backends) {
    for (const to of backends) {
      test(`${from.name} → ${to.name}`, async () => {
        const source = await from.create();
        await fillStore(source);
        const expected = await snapshot(source);
        const archive = await archiveOf(source);
        const target = await to.create();
        const result = await restore(target, () => streamOf(archive), { clock: new FakeClock({ startMs: T0 + 30_000 }) });
        assert.deepEqual({ queues: result.queues, jobs: result.jobs, records: result.records, audit: result.audit, skipped: result.skipped }, {
          queues: 2, jobs: 12, records: 2, audit: 2, skipped: 0,
        });
        const actual = await snapshot(target);
        // An active job has no worker after the trip: it comes back waiting, its attempts kept.
        const emails = expected.queues.emails as { counts: Record<string, number>; jobs: { n: number; state: string; runAt: unknown }[]; waitingOrder: number[] };
        emails.counts.active! -= 1;
        emails.counts.waiting! += 1;
        const six = emails.jobs.find((j) => j.n === 6)!;
        Object.assign(six, { state: "waiting", runAt: T0 });
        const restoredOrder = (actual.queues.emails as { waitingOrder: number[] }).waitingOrder;
        assert.deepEqual([...restoredOrder].sort(), [...emails.waitingOrder, 6].sort());
        delete (actual.queues.emails as { waitingOrder?: unknown }).waitingOrder;
        delete (expected.queues.emails as { waitingOrder?: unknown }).waitingOrder;
        assert.deepEqual(actual, expected);
        // Priorities still decide the claim order: 9 (critical) before 10 (normal) before 8 (low).
        const claimOrder = restoredOrder.filter((n) => [8, 9, 10].includes(n));
        assert.deepEqual(claimOrder, [9, 10, 8]);
        // Dedup keys still hold: a second "w-1" returns the restored job.
        const again = await target.enqueue("emails", { jobs: [newJob({ dedupKey: "w-1" })], now: T0 + 40_000 });
        assert.equal(again[0]!.created, false);
        assert.deepEqual(again[0]!.job.payload, { n: 9 });
      });
    }
  }
});

describe("bad archives import nothing", () => {
  let good: string[];
  before(async () => {
    const source = new MemoryStore();
    await fillStore(source);
    good = await linesOf(await archiveOf(source));
  });

  async function refused(chunks: Uint8Array[] | ReadableStream<Uint8Array>, line: number, pattern: RegExp) {
    const target = new MemoryStore();
    const error = await restore(target, Array.isArray(chunks) ? streamOf(chunks) : chunks).then(() => null, (e: unknown) => e);
    assert.ok(error instanceof BackupFormatError, `expected a BackupFormatError, got ${error}`);
    assert.equal(error.code, "VALIDATION_FAILED");
    assert.equal(error.line, line);
    assert.match(error.message, pattern);
    const counts = await target.counts("emails");
    assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 0, "no job imported");
    assert.deepEqual(await target.listRecords("schedules"), []);
    assert.deepEqual(await target.listAudit({ limit: 10 }), []);
  }

  test("a job line that breaks the schema names its line and field", async () => {
    const lines = [...good];
    const at = lines.findIndex((l) => l.includes('"kind":"job"') && l.includes('"n":10'));
    lines[at] = lines[at]!.replace(/"priority":\d+/, '"priority":"urgent"');
    await refused(await gzipLines(lines), at + 1, /line \d+: job\.priority/);
  });

  test("a line that is not JSON", async () => {
    const lines = [...good];
    lines[3] = lines[3]!.slice(0, 20);
    await refused(await gzipLines(lines), 4, /not a JSON value/);
  });

  test("a version this code does not read", async () => {
    const lines = [...good];
    lines[0] = lines[0]!.replace('"version":1', '"version":99');
    await refused(await gzipLines(lines), 1, /version 99 is not supported/);
  });

  test("an archive cut short (no end line)", async () => {
    const lines = good.slice(0, -1);
    await refused(await gzipLines(lines), lines.length + 1, /ends without its end line/);
  });

  test("a gzip stream cut in the middle", async () => {
    const bytes = (await gzipLines(good))[0]!;
    const error = await restore(new MemoryStore(), streamOf([bytes.slice(0, Math.floor(bytes.length / 2))])).then(() => null, (e: unknown) => e);
    assert.ok(error instanceof BackupFormatError, `expected a BackupFormatError, got ${error}`);
    assert.ok(error.line > 1);
  });

  test("end line counts that disagree", async () => {
    const lines = [...good];
    lines.splice(2, 1); // a job gone
    await refused(await gzipLines(lines), lines.length, /end line counts/);
  });

  test("a stream source is read once and restores as a factory does", async () => {
    const target = new MemoryStore();
    const result = await restore(target, streamOf(await gzipLines(good)), { clock: new FakeClock({ startMs: T0 + 30_000 }) });
    assert.equal(result.jobs, 12);
    assert.equal((await target.counts("emails")).completed, 2);
  });
});
