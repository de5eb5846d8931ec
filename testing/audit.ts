// The audit part of the contract: append-only entries with store-given cursors, read newest first
// by cursor and time, trimmed by age and count, kept across a restart and shared with siblings.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isConveyorError, type NewAuditEntry, type QueueStore } from "../mod.ts";
import { Q, type StoreUnderTest, T0 } from "./target.ts";

/** An entry at `at`, told apart by `details.n`. */
export function auditEntry(at: number, n: number, overrides: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    at, actor: "ada", actorType: "user", ip: "192.0.2.1", requestId: `req-${n}`, action: "job.cancel",
    queue: Q, jobId: String(n), scheduleId: null, outcome: "ok", details: { n }, ...overrides,
  };
}

const ns = (entries: readonly { details: Readonly<Record<string, unknown>> | null }[]) => entries.map((e) => e.details?.n);
const parts = (cursor: string) => cursor.split("-").map(Number) as [number, number];
const below = (a: string, b: string) => parts(a)[0] < parts(b)[0] || (parts(a)[0] === parts(b)[0] && parts(a)[1] < parts(b)[1]);

async function withStore(target: StoreUnderTest, body: (store: QueueStore) => Promise<void>) {
  const store = await target.create();
  try {
    await body(store);
  } finally {
    await store.close();
  }
}

export function auditCases(target: StoreUnderTest): void {
  const it = (name: string, body: (store: QueueStore) => Promise<void>) => test(`audit: ${name}`, () => withStore(target, body));

  it("entries come back as appended, newest first, under growing cursors of their time", async (store) => {
    const appended = await store.appendAudit([auditEntry(T0, 1), auditEntry(T0, 2), auditEntry(T0 + 5, 3)]);
    assert.deepEqual(appended, [`${T0}-0`, `${T0}-1`, `${T0 + 5}-0`], "time, then a seq within the millisecond");
    // An entry older than the log's newest (a late batch, a slow clock) is placed after it, not before.
    const [late] = await store.appendAudit([auditEntry(T0 + 2, 4)]);
    assert.equal(late, `${T0 + 5}-1`);
    const listed = await store.listAudit({ limit: 10 });
    assert.deepEqual(ns(listed), [4, 3, 2, 1]);
    assert.deepEqual(listed.map((e) => e.cursor), [late, ...appended.slice().reverse()]);
    assert.deepEqual(listed[3], { ...auditEntry(T0, 1), cursor: `${T0}-0` }, "every field kept");
    assert.equal(listed[0]!.at, T0 + 2, "an entry keeps its own time");
    assert.deepEqual(await store.appendAudit([]), []);
  });

  it("pages by cursor stay whole while entries are appended", async (store) => {
    await store.appendAudit(Array.from({ length: 10 }, (_, i) => auditEntry(T0 + i, i + 1)));
    const first = await store.listAudit({ limit: 4 });
    assert.deepEqual(ns(first), [10, 9, 8, 7]);
    await store.appendAudit([auditEntry(T0 + 20, 11), auditEntry(T0 + 21, 12), auditEntry(T0 + 22, 13)]);
    const second = await store.listAudit({ before: first.at(-1)!.cursor, limit: 4 });
    assert.deepEqual(ns(second), [6, 5, 4, 3], "going back is not moved by new entries");
    assert.deepEqual(ns(await store.listAudit({ before: second.at(-1)!.cursor, limit: 4 })), [2, 1]);
    assert.deepEqual(ns(await store.listAudit({ after: first[0]!.cursor, limit: 2 })), [12, 11], "forward: the closest after, newest first");
    assert.deepEqual(ns(await store.listAudit({ after: first[0]!.cursor, limit: 10 })), [13, 12, 11]);
    assert.deepEqual(await store.listAudit({ after: (await store.listAudit({ limit: 1 }))[0]!.cursor, limit: 10 }), []);
    assert.deepEqual(await store.listAudit({ before: `${T0}-0`, limit: 10 }), []);
  });

  it("time ranges bound the cursors' time, both ends included", async (store) => {
    await store.appendAudit([0, 10, 20, 30, 40].map((offset, i) => auditEntry(T0 + offset, i + 1)));
    assert.deepEqual(ns(await store.listAudit({ from: T0 + 10, to: T0 + 30, limit: 10 })), [4, 3, 2]);
    assert.deepEqual(ns(await store.listAudit({ from: T0 + 11, limit: 10 })), [5, 4, 3]);
    assert.deepEqual(ns(await store.listAudit({ to: T0 + 9, limit: 10 })), [1]);
    assert.deepEqual(ns(await store.listAudit({ from: T0 + 10, to: T0 + 30, limit: 2 })), [4, 3], "the newest of the range");
    const [newest] = await store.listAudit({ limit: 1, to: T0 + 30 });
    assert.deepEqual(ns(await store.listAudit({ from: T0 + 10, before: newest!.cursor, limit: 10 })), [3, 2]);
    assert.deepEqual(ns(await store.listAudit({ to: T0 + 30, after: `${T0}-0`, limit: 2 })), [3, 2]);
    assert.deepEqual(await store.listAudit({ from: T0 + 41, limit: 10 }), []);
    assert.deepEqual(await store.listAudit({ from: T0 + 30, to: T0 + 10, limit: 10 }), []);
  });

  it("trims by age and by count, oldest first, and later cursors still grow", async (store) => {
    await store.appendAudit(Array.from({ length: 6 }, (_, i) => auditEntry(T0 + i * 10, i + 1)));
    assert.equal(await store.trimAudit({ olderThan: T0 + 20 }), 2, "T0 and T0 + 10 are older than T0 + 20");
    assert.deepEqual(ns(await store.listAudit({ limit: 10 })), [6, 5, 4, 3]);
    assert.equal(await store.trimAudit({ keep: 3 }), 1);
    assert.deepEqual(ns(await store.listAudit({ limit: 10 })), [6, 5, 4]);
    assert.equal(await store.trimAudit({ olderThan: T0 + 35, keep: 1 }), 2, "both rules: the stricter wins");
    assert.equal(await store.trimAudit({ olderThan: T0, keep: 5 }), 0, "nothing to trim");
    assert.equal(await store.trimAudit({}), 0);
    assert.equal(await store.trimAudit({ keep: 0 }), 1);
    assert.deepEqual(await store.listAudit({ limit: 10 }), []);
    const [cursor] = await store.appendAudit([auditEntry(T0, 7)]);
    assert.equal(cursor, `${T0 + 50}-1`, "after the newest cursor ever given, though it was trimmed");
  });

  it('details keep a "__proto__" key as data', async (store) => {
    const details = JSON.parse('{"__proto__": {"x": 1}, "n": 1}');
    await store.appendAudit([auditEntry(T0, 1, { details })]);
    const [read] = await store.listAudit({ limit: 1 });
    assert.ok(read?.details && Object.hasOwn(read.details, "__proto__"));
    assert.equal(JSON.stringify(read.details), JSON.stringify(details));
  });

  test("audit: every audit call after close rejects with STORE_CLOSED", async () => {
    const store = await target.create();
    await store.close();
    for (const [name, call] of [
      ["appendAudit", () => store.appendAudit([auditEntry(T0, 1)])],
      ["listAudit", () => store.listAudit({ limit: 1 })],
      ["trimAudit", () => store.trimAudit({ keep: 0 })],
    ] as const) {
      await assert.rejects(call(), (error) => isConveyorError(error, "STORE_CLOSED"), name);
    }
  });

  if (target.reopen) {
    test("audit: entries and the newest cursor survive a restart", async () => {
      let store = await target.create();
      try {
        const before = await store.appendAudit([auditEntry(T0, 1), auditEntry(T0 + 10, 2), auditEntry(T0 + 20, 3)]);
        await store.trimAudit({ keep: 2 });
        const kept = await store.listAudit({ limit: 10 });
        store = await target.reopen!(store);
        assert.deepEqual(await store.listAudit({ limit: 10 }), kept);
        const [next] = await store.appendAudit([auditEntry(T0, 4)]);
        assert.ok(below(before.at(-1)!, next!), `${next} follows ${before.at(-1)}`);
        assert.deepEqual(ns(await store.listAudit({ limit: 10 })), [4, 3, 2]);
      } finally {
        await store.close();
      }
    });
  }

  if (target.sibling) {
    test("audit: entries of two processes interleave in one order, whichever clock or batch comes first", async () => {
      const a = await target.create();
      const b = await target.sibling!(a);
      try {
        await a.appendAudit([auditEntry(T0 + 1, 1)]);
        await b.appendAudit([auditEntry(T0 + 2, 2)]);
        await a.appendAudit([auditEntry(T0 + 3, 3)]);
        // b's clock is behind: its entry still goes after a's newest.
        const [behind] = await b.appendAudit([auditEntry(T0, 4)]);
        assert.equal(behind, `${T0 + 3}-1`);
        // At once from both: every cursor is given once, and both read the same log.
        await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).appendAudit([auditEntry(T0 + 100, 10 + i), auditEntry(T0 + 100, 100 + i)])));
        const fromA = await a.listAudit({ limit: 100 });
        const fromB = await b.listAudit({ limit: 100 });
        assert.deepEqual(fromA, fromB);
        assert.equal(fromA.length, 44);
        assert.deepEqual(ns(fromA.slice(-4)), [4, 3, 2, 1]);
        for (let i = 1; i < fromA.length; i++) assert.ok(below(fromA[i]!.cursor, fromA[i - 1]!.cursor), "strictly newest first");
        for (let i = 0; i < 20; i++) {
          const at = (n: number) => fromA.findIndex((e) => e.details?.n === n);
          assert.ok(at(100 + i) < at(10 + i), "one call's entries stay in its order");
        }
        assert.equal(await b.trimAudit({ keep: 40 }), 4);
        assert.deepEqual(ns(await a.listAudit({ limit: 100 })).slice(-1), [fromA[39]!.details?.n], "a sees b's trim");
      } finally {
        await b.close();
        await a.close();
      }
    });
  }
}
