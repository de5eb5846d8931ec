// The audit log in the core, on fake time: batched writes (by size, by time, on close), retention
// by age and count on its own timer, queries and exports, lifecycle entries, options.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AUDIT_DEFAULTS,
  AuditLog,
  createConveyor,
  FakeClock,
  MAX_AUDIT_DETAIL_CHARS,
  MAX_AUDIT_SCAN,
  MemoryStore,
  type NewAuditEntry,
  type QueueStore,
} from "../mod.ts";
import { echo } from "./support/jobs.ts";

/** A memory store that notes each appendAudit call's size, and can be told to refuse them; methods can be swapped. */
function spiedStore() {
  const inner = new MemoryStore();
  const calls: number[] = [];
  let refusing = 0;
  const overrides: Record<PropertyKey, unknown> = {
    appendAudit: async (entries: readonly NewAuditEntry[]) => {
      if (refusing > 0) {
        refusing--;
        throw new Error("store down");
      }
      calls.push(entries.length);
      return await inner.appendAudit(entries);
    },
  };
  const store = new Proxy(inner, {
    get(target, property) {
      if (property in overrides) return overrides[property];
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(_, property, value) {
      overrides[property] = value;
      return true;
    },
  });
  return { store, calls, refuse: (times: number) => refusing = times };
}

const stored = async (store: QueueStore) => (await store.listAudit({ limit: 1_000 })).map((e) => e.action);

describe("AuditLog", () => {
  test("writes a batch once batchSize entries wait, and not before", async () => {
    const clock = new FakeClock();
    const { store, calls } = spiedStore();
    const log = new AuditLog(store, clock, { batchSize: 3 });
    log.record({ action: "a" });
    log.record({ action: "b" });
    await clock.flush();
    assert.deepEqual(calls, []);
    log.record({ action: "c" });
    await clock.flush();
    assert.deepEqual(calls, [3], "one write of three");
    assert.deepEqual(await stored(store), ["c", "b", "a"]);
    await log.close();
  });

  test("writes flushIntervalMs after the first waiting entry, to the millisecond", async () => {
    const clock = new FakeClock();
    const { store, calls } = spiedStore();
    const log = new AuditLog(store, clock, { flushIntervalMs: 1_000 });
    log.record({ action: "a" });
    await clock.advance(400);
    log.record({ action: "b" }); // does not push the write back
    await clock.advance(599);
    assert.deepEqual(calls, []);
    await clock.advance(1);
    assert.deepEqual(calls, [2]);
    log.record({ action: "c" });
    await clock.advance(1_000);
    assert.deepEqual(calls, [2, 1]);
    await log.close();
  });

  test("close writes what waits; conveyor.close() closes the log before the store", async () => {
    const clock = new FakeClock();
    const { store, calls } = spiedStore();
    const conveyor = createConveyor({ store, clock, audit: { batchSize: 50, flushIntervalMs: 60_000 } });
    for (let i = 0; i < 7; i++) conveyor.audit.record({ action: `a${i}`, actor: "ada" });
    await conveyor.close();
    assert.deepEqual(calls, [7]);
    conveyor.audit.record({ action: "after close" });
    assert.deepEqual(calls, [7], "a closed log records nothing");
  });

  test("entries the store refuses are kept, in order, and written once it answers; past the buffer the oldest go", async () => {
    const clock = new FakeClock();
    const { store, calls, refuse } = spiedStore();
    const log = new AuditLog(store, clock, { batchSize: 2, flushIntervalMs: 100, maxBufferedEntries: 5 });
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      refuse(3);
      log.record({ action: "1" });
      log.record({ action: "2" });
      await clock.flush(); // refused: kept
      for (const action of ["3", "4", "5", "6"]) log.record({ action });
      assert.equal(log.dropped, 1, "six waiting, five kept");
      await clock.advance(100); // refused again
      await clock.advance(100); // and again
      assert.deepEqual(calls, []);
      await clock.advance(100);
      assert.deepEqual(calls, [2, 2, 1]);
      assert.deepEqual(await stored(store), ["6", "5", "4", "3", "2"]);
      assert.equal(errors.length, 1, "one report per outage");
    } finally {
      console.error = original;
      await log.close();
    }
  });

  test("retention by age and by count runs on its own timer, jobs untouched", async () => {
    const clock = new FakeClock({ startMs: 1_000_000 });
    const { store } = spiedStore();
    const conveyor = createConveyor({ store, clock, audit: { maxAgeMs: 65_000, maxEntries: 3, retentionIntervalMs: 60_000, flushIntervalMs: 10 } });
    const queue = conveyor.queue("q");
    await queue.add(echo, { n: 1 });
    for (let i = 0; i < 5; i++) {
      conveyor.audit.record({ action: `early${i}` });
      await clock.advance(10);
    }
    await clock.advance(55_000);
    for (let i = 0; i < 2; i++) conveyor.audit.record({ action: `late${i}` });
    await clock.advance(10);
    assert.equal((await stored(store)).length, 7);
    await clock.advance(60_000 - 55_060); // the first retention run, 60 s after the log opened: none is 65 s old yet
    assert.deepEqual(await stored(store), ["late1", "late0", "early4"], "the newest three");
    await clock.advance(60_000);
    assert.deepEqual(await stored(store), ["late1", "late0"], "by the second run, early4 is over 65 s old, the late ones not yet");
    assert.equal((await queue.counts()).waiting, 1, "jobs are not the audit log's business");
    await conveyor.close();
  });

  test("retention can be switched off per rule", async () => {
    const clock = new FakeClock();
    const { store } = spiedStore();
    const log = new AuditLog(store, clock, { maxAgeMs: null, maxEntries: 2, retentionIntervalMs: 86_400_000 });
    for (let i = 0; i < 4; i++) log.record({ action: String(i) });
    await log.flush();
    await clock.advance(86_400_000 * 365);
    assert.deepEqual(await stored(store), ["3", "2"], "old entries stay, the count still holds");
    await log.close();
    const none = new AuditLog(store, clock, { maxAgeMs: null, maxEntries: null });
    assert.equal(await none.applyRetention(), 0);
    await none.close();
  });

  test("query: filters, paging with next, newest first, this process's buffer included", async () => {
    const clock = new FakeClock({ startMs: 5_000 });
    const log = new AuditLog(new MemoryStore(), clock, { flushIntervalMs: 60_000 });
    for (let i = 0; i < 30; i++) {
      log.record({ action: i % 3 === 0 ? "job.cancel" : "job.retry", actor: i % 2 ? "ada" : "linus", queue: i % 5 === 0 ? "mail" : "q", jobId: String(i) });
      await clock.advance(1);
    }
    const page = await log.query({ action: "job.cancel", limit: 4 });
    assert.deepEqual(page.entries.map((e) => e.jobId), ["27", "24", "21", "18"], "unflushed entries are read too");
    const rest = await log.query({ action: "job.cancel", limit: 10, before: page.next! });
    assert.deepEqual(rest.entries.map((e) => e.jobId), ["15", "12", "9", "6", "3", "0"]);
    assert.equal(rest.next, null);
    assert.deepEqual((await log.query({ actor: "ada", queue: "mail" })).entries.map((e) => e.jobId), ["25", "15", "5"]);
    assert.deepEqual((await log.query({ jobId: "7" })).entries.map((e) => e.actor), ["ada"]);
    assert.deepEqual((await log.query({ from: 5_010, to: 5_012 })).entries.map((e) => e.jobId), ["12", "11", "10"]);
    const forward = await log.query({ after: page.entries[3]!.cursor, limit: 2 });
    assert.deepEqual(forward.entries.map((e) => e.jobId), ["20", "19"], "the two right after, newest first");
    await assert.rejects(log.query({ before: "x" }), TypeError);
    await assert.rejects(log.query({ before: page.next!, after: page.next! }), TypeError);
    await assert.rejects(log.query({ limit: 1_001 }), TypeError);
    await log.close();
  });

  test(`query reads at most MAX_AUDIT_SCAN (${MAX_AUDIT_SCAN}) entries, and says where to go on`, async () => {
    const store = new MemoryStore();
    const entry = (i: number): NewAuditEntry => ({
      at: 1_000 + i, actor: "x", actorType: "user", ip: null, requestId: null, action: i === 0 ? "rare" : "common",
      queue: null, jobId: String(i), scheduleId: null, outcome: "ok", details: null,
    });
    await store.appendAudit(Array.from({ length: MAX_AUDIT_SCAN + 500 }, (_, i) => entry(i)));
    const log = new AuditLog(store, new FakeClock());
    const first = await log.query({ action: "rare" });
    assert.deepEqual(first.entries, []);
    assert.ok(first.next, "not the end: a cursor to go on from");
    const second = await log.query({ action: "rare", before: first.next! });
    assert.deepEqual(second.entries.map((e) => e.jobId), ["0"]);
    assert.equal(second.next, null);
  });

  test("export streams every match, newest first, a page at a time", async () => {
    const clock = new FakeClock();
    const { store } = spiedStore();
    const log = new AuditLog(store, clock, true);
    for (let i = 0; i < 1_234; i++) log.record({ action: i % 2 ? "odd" : "even", jobId: String(i) });
    const reads: number[] = [];
    const listAudit = store.listAudit;
    store.listAudit = async (request) => {
      reads.push(request.limit);
      return await listAudit(request);
    };
    const seen: string[] = [];
    for await (const entry of log.export({ action: "odd" }) as unknown as AsyncIterable<{ jobId: string }>) seen.push(entry.jobId);
    assert.equal(seen.length, 617);
    assert.deepEqual(seen.slice(0, 2), ["1233", "1231"]);
    assert.ok(reads.every((limit) => limit <= 2_000), "paged reads");
    await log.close();
  });

  test("details stay small and secret-free; text is clipped", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock, audit: true });
    conveyor.audit.record({ action: "big", details: { blob: "x".repeat(MAX_AUDIT_DETAIL_CHARS) } });
    conveyor.audit.record({ action: "secret", details: { authorization: "Bearer abc.def.ghi", note: "api_key=sk_live_0123456789abcdefghijklmnop" }, requestId: "r".repeat(500) });
    const [secret, big] = (await conveyor.audit.query()).entries;
    assert.match(String(big!.details!.omitted), /over 2048/);
    assert.doesNotMatch(JSON.stringify(secret!.details), /abc\.def|sk_live/);
    assert.equal(secret!.requestId!.length, 200);
    await conveyor.close();
  });

  test("the JS API's cancel and retry are recorded with `by`, or as the system", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock, audit: true });
    const queue = conveyor.queue("q");
    const job = await queue.add(echo, { n: 1 });
    await queue.cancel(job.id, { by: "ops-bot" });
    await queue.retry(job.id);
    await assert.rejects(queue.cancel("nope", { by: "ops-bot" }));
    const entries = (await conveyor.audit.query()).entries.map((e) => [e.action, e.actor, e.actorType, e.jobId, e.outcome, e.details]);
    assert.deepEqual(entries, [
      ["job.cancel", "ops-bot", "user", "nope", "failed", { code: "JOB_NOT_FOUND" }],
      ["job.retry", "system", "system", job.id, "ok", null],
      ["job.cancel", "ops-bot", "user", job.id, "ok", null],
    ]);
    await conveyor.close();
  });

  test("lifecycle categories, off by default, from the events of every queue the conveyor knows", async () => {
    for (const lifecycle of [undefined, ["started", "completed", "failed", "dead"] as const]) {
      const clock = new FakeClock();
      const conveyor = createConveyor({ clock, audit: lifecycle ? { lifecycle } : true });
      const queue = conveyor.queue("q");
      conveyor.worker(queue).handle(echo, ({ n }) => {
        if (n === 2) throw new Error("no");
        return n;
      });
      await queue.add(echo, { n: 1 });
      await queue.add(echo, { n: 2 }, { attempts: 1 });
      await clock.advance(100);
      const actions = (await conveyor.audit.query()).entries.map((e) => `${e.action} ${e.jobId} ${e.actor}`).reverse();
      if (!lifecycle) assert.deepEqual(actions, []);
      else assert.deepEqual(actions, ["job.started 1 system", "job.completed 1 system", "job.started 2 system", "job.failed 2 system", "job.dead 2 system"]);
      await conveyor.close();
    }
  });

  test("options: validated, frozen defaults, the caller's object left alone", () => {
    assert.ok(Object.isFrozen(AUDIT_DEFAULTS));
    assert.equal(AUDIT_DEFAULTS.operator, true);
    assert.deepEqual(AUDIT_DEFAULTS.lifecycle, []);
    const given = { batchSize: 5, lifecycle: ["completed", "completed"] as ("completed")[] };
    const log = new AuditLog(new MemoryStore(), new FakeClock(), given);
    assert.deepEqual(log.options!.lifecycle, ["completed"]);
    assert.equal(log.options!.flushIntervalMs, AUDIT_DEFAULTS.flushIntervalMs);
    assert.ok(Object.isFrozen(log.options));
    assert.deepEqual(given, { batchSize: 5, lifecycle: ["completed", "completed"] });
    void log.close();
    assert.equal(new AuditLog(new MemoryStore(), new FakeClock()).enabled, false);
    for (const bad of [{ batchSize: 0 }, { lifecycle: ["nope"] }, { flushIntervalMs: -1 }, { unknown: 1 }, "yes"]) {
      assert.throws(() => createConveyor({ audit: bad as never }), TypeError, JSON.stringify(bad));
    }
  });
});
