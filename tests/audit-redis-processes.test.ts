// The audit log with real processes on one redis-server: two processes append (batched, on their
// own clocks), a third reads, and sees every entry of both, once, in one time order.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type AuditEntry, createConveyor } from "../mod.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { type Child, startScript } from "./support/processes.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

const WRITER = "tests/fixtures/audit-writer.ts";
const COUNT = 60;
const FLUSH_MS = 25;

describe("the audit log across processes on Redis", () => {
  let redis: RedisServer;
  const children: Child[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await redis.stop();
  });

  test("two processes append, a third sees both, interleaved in time order", async () => {
    const prefix = `audit-${crypto.randomUUID().slice(0, 8)}`;
    const env = { REDIS_URL: redis.url, PREFIX: prefix, COUNT: String(COUNT), EVERY_MS: "7" };
    const writers = ["alpha", "beta"].map((ACTOR) => startScript(WRITER, { ...env, ACTOR }));
    children.push(...writers);
    await Promise.all(writers.map((writer) => writer.waitFor("ready")));
    const store = new RedisStore({ connection: redis.url, prefix });
    // This process records nothing (no audit options) and reads what the others wrote.
    const reader = createConveyor({ store });
    try {
      await (await store.client()).call("SET", `${prefix}:go`, "1");
      await Promise.all(writers.map((writer) => writer.waitFor("done", 60_000)));

      const entries: AuditEntry[] = [];
      for (let next: string | null | undefined; next !== null;) {
        const page = await reader.audit.query({ limit: 25, ...(next ? { before: next } : {}) });
        entries.push(...page.entries);
        next = page.next;
      }
      assert.equal(entries.length, 2 * COUNT, "every entry of both, once");
      const oldestFirst = entries.slice().reverse();
      for (const actor of ["alpha", "beta"]) {
        const own = oldestFirst.filter((e) => e.actor === actor).map((e) => Number(e.jobId));
        assert.deepEqual(own, Array.from({ length: COUNT }, (_, i) => i), `${actor}'s entries in the order it recorded them`);
      }
      const cursor = (e: AuditEntry) => e.cursor.split("-").map(Number) as [number, number];
      for (let i = 1; i < oldestFirst.length; i++) {
        const [a, b] = [cursor(oldestFirst[i - 1]!), cursor(oldestFirst[i]!)];
        assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), "cursors grow");
        // Time order: a cursor's time is its entry's time, or a little later when another
        // process's batch got there first (at most one flush interval, plus scheduling slack).
        assert.ok(b[0] >= oldestFirst[i]!.at, "a cursor is never before its entry");
        assert.ok(b[0] - oldestFirst[i]!.at <= FLUSH_MS + 250, `entry ${i} placed ${b[0] - oldestFirst[i]!.at} ms after its time`);
      }
      const switches = oldestFirst.filter((e, i) => i > 0 && e.actor !== oldestFirst[i - 1]!.actor).length;
      assert.ok(switches >= 5, `the two processes' entries interleave (${switches} switches)`);
      // The same log through the export, and filtered by actor.
      const exported: AuditEntry[] = [];
      for await (const entry of reader.audit.export({ actor: "beta" }) as unknown as AsyncIterable<AuditEntry>) exported.push(entry);
      assert.deepEqual(exported, entries.filter((e) => e.actor === "beta"));
    } finally {
      await reader.close();
    }
  });
});
