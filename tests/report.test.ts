// Queue reports on every store: counts, the period's executions, success rate, throughput,
// durations, top failures and the slowest jobs; rendered as JSON, CSV (quoted, formula-safe) and
// HTML (escaped); delivered to a function or POSTed to a URL; scheduled as a job whose output is redacted.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createConveyor, FakeClock, MemoryStore, type QueueStore } from "../mod.ts";
import { deliverReport, queueReport, type RenderedReport, renderReport, reportCsv, reportHtml, scheduleReport } from "../maintenance.ts";
import { backends } from "./support/backends.ts";
import { newJob } from "./support/store-conformance.ts";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

/** Runs one job of `queue` from `start` for `ms`, ending as given. */
async function ran(store: QueueStore, queue: string, start: number, ms: number, end: { result: unknown } | { error: { name: string; message: string; code?: string } }) {
  await store.enqueue(queue, { jobs: [newJob({ name: "send", runAt: start })], now: start });
  const { jobs: [job] } = await store.claim(queue, { workerId: "w", limit: 1, leaseMs: 3_600_000, now: start });
  const common = { id: job!.id, token: job!.lease!.token };
  const outcome = "result" in end ? { ...common, kind: "completed" as const, result: end.result } : { ...common, kind: "failed" as const, error: end.error, retryAt: null };
  await store.finish(queue, { outcomes: [outcome], now: start + ms });
  return job!.id;
}

async function filled(store: QueueStore) {
  await ran(store, "emails", T0 - 30 * HOUR, 99_999, { result: 1 }); // before the period: not counted
  await ran(store, "emails", T0 - 3 * HOUR, 100, { result: 1 });
  const slowest = await ran(store, "emails", T0 - 2 * HOUR, 2_000, { result: 1 });
  await ran(store, "emails", T0 - HOUR, 500, { result: 1 });
  await ran(store, "emails", T0 - HOUR, 10, { error: { name: "ConveyorError", code: "SMTP_DOWN", message: "older" } });
  await ran(store, "emails", T0 - 10, 5, { error: { name: "ConveyorError", code: "SMTP_DOWN", message: "<script>alert(1)</script>, down" } });
  await ran(store, "emails", T0 - 5, 1, { error: { name: "TypeError", message: "=cmd|' /C calc'!A0" } });
  const cancelled = await store.enqueue("emails", { jobs: [newJob({ runAt: T0 })], now: T0 - 1 });
  await store.cancel("emails", { id: cancelled[0]!.job.id, now: T0 - 1, by: null });
  await store.enqueue("emails", { jobs: [newJob({ runAt: T0 })], now: T0 });
  return { slowest };
}

for (const backend of backends) {
  describe(`queue report on ${backend.name}`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    test("figures for the period", async () => {
      const store = await backend.create();
      const { slowest } = await filled(store);
      const report = await queueReport(store, new FakeClock({ startMs: T0 }), { queues: ["emails"], slowest: 2 });
      assert.equal(report.from, T0 - 24 * HOUR);
      const [q] = report.queues;
      assert.equal(q!.counts.waiting, 1);
      assert.equal(q!.counts.completed, 4);
      assert.deepEqual([q!.executions, q!.completed, q!.failed, q!.cancelled], [6, 3, 3, 1]);
      assert.equal(q!.successRate, 0.5);
      assert.equal(q!.throughputPerHour, 0.13); // 3 in 24 h
      assert.deepEqual(q!.durations, { averageMs: 867, p95Ms: 2_000, maxMs: 2_000 });
      assert.deepEqual(q!.topErrors.map((e) => [e.error, e.count, e.message]), [
        ["SMTP_DOWN", 2, "<script>alert(1)</script>, down"],
        ["TypeError", 1, "=cmd|' /C calc'!A0"],
      ]);
      assert.deepEqual(q!.slowest.map((s) => [s.id, s.durationMs]), [[slowest, 2_000], [q!.slowest[1]!.id, 500]]);
      assert.equal(q!.truncated, false);
    });
  });
}

describe("rendering and delivery", () => {
  async function report() {
    const s = new MemoryStore();
    await filled(s);
    return await queueReport(s, new FakeClock({ startMs: T0 }), { queues: ["emails"] });
  }

  test("JSON is the report", async () => {
    const r = await report();
    assert.deepEqual(JSON.parse(renderReport(r, "json").body), r);
  });

  test("CSV quotes commas and quotes, and defuses formulas", async () => {
    const csv = reportCsv(await report());
    const lines = csv.trimEnd().split("\r\n");
    assert.equal(lines[0], "section,queue,key,value,detail");
    assert.ok(lines.includes("counts,emails,completed,4,"));
    assert.ok(lines.includes('error,emails,SMTP_DOWN,2,"<script>alert(1)</script>, down"'), csv);
    assert.ok(lines.includes("error,emails,TypeError,1,'=cmd|' /C calc'!A0"), csv);
  });

  test("HTML escapes every value", async () => {
    const html = reportHtml(await report());
    assert.ok(!html.includes("<script>"));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;, down"));
    assert.match(html, /^<!doctype html>/);
    assert.equal(renderReport(await report(), "html").contentType, "text/html; charset=utf-8");
  });

  test("POSTed to a URL; a non-2xx answer throws", async () => {
    const original = globalThis.fetch;
    const seen: { url: string; type: string | null; body: string }[] = [];
    let status = 204;
    globalThis.fetch = (async (url: string, init: RequestInit) => {
      seen.push({ url: String(url), type: new Headers(init.headers).get("content-type"), body: String(init.body) });
      return new Response(null, { status });
    }) as typeof fetch;
    try {
      const rendered = renderReport(await report(), "csv");
      await deliverReport(rendered, { url: "https://reports.example/in", headers: { authorization: "Bearer x" } });
      assert.deepEqual(seen.map((s) => [s.url, s.type]), [["https://reports.example/in", "text/csv; charset=utf-8"]]);
      assert.equal(seen[0]!.body, rendered.body);
      status = 500;
      await assert.rejects(deliverReport(rendered, { url: "https://reports.example/in" }), /answered 500/);
    } finally {
      globalThis.fetch = original;
    }
  });

  test("scheduleReport: a daily job that delivers the rendered report, redacted", async () => {
    const clock = new FakeClock({ startMs: T0 });
    const conveyor = createConveyor({ clock });
    try {
      await ran(conveyor.store, "emails", T0 - HOUR, 5, { error: { name: "Error", code: "AUTH", message: "stripe key sk_live_51HxQ2bLk3mN4pQ5rS6tU7vW8 refused" } });
      conveyor.queue("emails");
      const delivered: RenderedReport[] = [];
      const scheduler = conveyor.scheduler({ autostart: false });
      await scheduleReport(conveyor, scheduler, { request: { format: "html", queues: ["emails"] }, deliver: (r) => void delivered.push(r) });
      await scheduler.start();
      await clock.advance(6 * HOUR);
      await conveyor.drain();
      assert.equal(delivered.length, 1);
      assert.equal(delivered[0]!.format, "html");
      assert.ok(delivered[0]!.body.includes("AUTH"));
      assert.ok(!delivered[0]!.body.includes("sk_live_51HxQ2bLk3mN4pQ5rS6tU7vW8"));
      const [run] = await conveyor.queue("conveyor-maintenance").list("completed");
      assert.equal((run?.result as { queues: { failed: number }[] }).queues[0]!.failed, 1);
      scheduler.close();
    } finally {
      await conveyor.close();
    }
  });
});
