// The dashboard in a real browser: Debian's Chromium driven by playwright-core over a served
// app. Sign in, live counts and progress without reloading, retry a failed job, pause and
// resume, trigger a schedule, CSRF and read-only refusals, axe-core on every page, the first
// load's weight; a screenshot of each page in .tmp/dashboard-screenshots (gitignored).
// Runs under Node, Deno and Bun alike (each serves through its own adapter). A missing browser
// fails the test, it never skips.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { Broadcaster } from "../broadcast.ts";
import { createConveyor, defineJob, every } from "../mod.ts";
import { currentAdapter } from "./support/adapter.ts";
import type { Served } from "../src/adapter/contract.ts";
import * as v from "valibot";
import { dashboardServer, email, token } from "./support/dashboard.ts";
import { waitUntil } from "./support/harness.ts";
import { freePort } from "./support/redis-server.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const SCREENSHOTS = join(process.cwd(), ".tmp", "dashboard-screenshots");
const AXE = readFileSync(join(process.cwd(), "node_modules", "axe-core", "axe.min.js"), "utf8");
const FIRST_LOAD_LIMIT = 150 * 1024;

const report = defineJob("report", v.object({ month: v.string() }));

describe("Dashboard in Chromium", () => {
  let served: Served;
  let context: BrowserContext;
  let userData: string;
  let origin: string;
  const broadcaster = new Broadcaster({ appId: "1", key: "k", secret: "a-broadcast-secret-long-enough" });
  const server = dashboardServer({ conveyor: createConveyor({ audit: true }), dashboard: { broadcaster } });
  const { conveyor, base } = server;
  const emails = conveyor.queue("emails");
  const reports = conveyor.queue("reports").register(report);
  const scheduler = conveyor.scheduler({ autostart: false });
  // The worker: "fail@…" fails its first attempt (attempts: 1, so it stays failed); "slow@…" reports progress when told.
  const failedOnce = new Set<string>();
  const gates: ((value: number) => void)[] = [];
  conveyor.worker("emails").handle(email, async ({ to }, ctx) => {
    if (to.startsWith("fail") && !failedOnce.has(ctx.job.id)) {
      failedOnce.add(ctx.job.id);
      throw new Error("smtp refused the message");
    }
    if (to.startsWith("slow")) {
      await ctx.progress(0);
      for (;;) {
        const next = await new Promise<number>((resolve) => gates.push(resolve));
        await ctx.progress(next);
        if (next >= 100) break;
      }
    }
    return { sent: to };
  });
  const shots: string[] = [];

  async function shot(page: Page, name: string): Promise<void> {
    const path = join(SCREENSHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
  }

  /** axe-core on the page as it is: no serious or critical violation. */
  async function axe(page: Page, name: string): Promise<void> {
    await page.addScriptTag({ content: AXE });
    const violations = await page.evaluate(async () => {
      const result = await (globalThis as any).axe.run(document, { resultTypes: ["violations"] });
      return result.violations.map((x: any) => ({ id: x.id, impact: x.impact, nodes: x.nodes.map((n: any) => n.target.join(" ")).slice(0, 3) }));
    }) as { id: string; impact: string; nodes: string[] }[];
    const bad = violations.filter((x) => x.impact === "serious" || x.impact === "critical");
    assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad)}`);
  }

  async function visit(page: Page, path: string, name: string): Promise<void> {
    const res = await page.goto(`${origin}${base}${path}`);
    assert.equal(res?.status(), 200, `${name}: ${path}`);
    await axe(page, name);
    await shot(page, name);
  }

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); this test never skips`);
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    await scheduler.schedule("monthly", every(1, "hours"), { queue: "reports", job: report, payload: { month: "2026-11" } });
    served = await (await currentAdapter()).serve(server.host as never, { port: await freePort() });
    origin = `http://127.0.0.1:${served.port}`;
    userData = mkdtempSync(join(tmpdir(), "conveyor-chromium-"));
    context = await chromium.launchPersistentContext(userData, { executablePath: CHROMIUM, headless: true, args: ARGS, bypassCSP: true, viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await context?.close();
    await served?.close();
    scheduler.close();
    await broadcaster.close();
    await conveyor.close({ timeoutMs: 0 });
    if (userData) rmSync(userData, { recursive: true, force: true });
    console.log(`screenshots in ${SCREENSHOTS}:\n  ${shots.join("\n  ")}`);
  });

  // The admin's steps share one page, in order (each a test of its own, so each has its own time limit).
  let page: Page;

  test("an admin signs in; the first load stays under 150 KB", async () => {
    page = await context.newPage();
    // Sign-in page first: the dashboard sends a stranger there.
    await page.goto(`${origin}${base}`);
    assert.equal(new URL(page.url()).pathname, `${base}/sign-in`);
    await axe(page, "sign-in");
    await shot(page, "sign-in");
    await page.getByLabel("Access token (JWT)").fill(await token("admin", "ada"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${origin}${base}`);
    await page.waitForFunction(() => document.body.dataset.live === "ready");
    // First load: the overview's document and everything it pulled in (cached or not), less the live stream.
    const bytes = await page.evaluate(() =>
      [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
        .filter((e) => !e.name.includes("/live?"))
        .reduce((sum, e) => sum + (e as PerformanceResourceTiming).decodedBodySize, 0)
    );
    console.log(`first load of the overview: ${bytes} bytes (limit ${FIRST_LOAD_LIMIT})`);
    assert.ok(bytes > 0 && bytes <= FIRST_LOAD_LIMIT, `first load ${bytes} bytes`);
    await axe(page, "overview");
    await shot(page, "overview");

  });

  test("a count changes in place after an enqueue", async () => {
    // reports has no worker, so the job stays waiting.
    await page.evaluate(() => ((globalThis as any).__sameDocument = true));
    const cell = page.locator('[data-count="reports:waiting"]');
    assert.equal(await cell.textContent(), "0");
    await reports.add(report, { month: "2026-10" });
    await page.waitForFunction(() => document.querySelector('[data-count="reports:waiting"]')?.textContent === "1");
    assert.equal(await page.evaluate(() => (globalThis as any).__sameDocument), true, "updated in place, not reloaded");

  });

  test("a dead job is retried from its page", async () => {
    // Failed for good: dead-lettered, the default.
    const failing = await emails.add(email, { to: "fail@example.com" }, { attempts: 1 });
    await page.waitForFunction(() => document.querySelector('[data-count="emails:dead"]')?.textContent === "1");
    await visit(page, "/queues/emails?state=dead", "queue-dead-state");
    await page.getByRole("link", { name: failing.id, exact: true }).click();
    await page.waitForURL(`**/jobs/${failing.id}`);
    assert.equal(await page.locator("[data-state]").textContent(), "dead");
    await page.getByText("smtp refused the message").first().waitFor();
    await axe(page, "job-dead");
    await shot(page, "job-dead");
    await page.getByRole("button", { name: "Retry" }).click();
    await page.waitForURL(`**/jobs/${failing.id}?notice=*`);
    await page.getByText(`Job ${failing.id} retried`, { exact: true }).waitFor();
    await waitUntil(async () => (await emails.get(failing.id))!.state === "completed", 30_000, "the retried job ran");

  });

  test("a job's progress goes 0 → 50 → 100 on its page without a reload", async () => {
    const slow = await emails.add(email, { to: "slow@example.com" });
    await page.goto(`${origin}${base}/queues/emails/jobs/${slow.id}`);
    await page.waitForFunction(() => document.body.dataset.live === "ready");
    await page.evaluate(() => ((globalThis as any).__sameDocument = true));
    for (const value of [50, 100]) {
      await waitUntil(() => gates.length > 0, 30_000, "the slow job waits for its next progress");
      gates.shift()!(value);
      await page.waitForFunction((v) => (document.getElementById("job-progress") as HTMLProgressElement | null)?.value === v, value);
    }
    await page.waitForFunction(() => document.querySelector("[data-state]")?.textContent === "completed");
    assert.equal(await page.evaluate(() => (globalThis as any).__sameDocument), true);
    await axe(page, "job-completed");
    await shot(page, "job-completed");

  });

  test("a queue is paused and resumed", async () => {
    await page.goto(`${origin}${base}/queues/emails`);
    await page.getByRole("button", { name: "Pause queue" }).click();
    await page.getByText("Queue paused", { exact: true }).waitFor();
    assert.equal(await emails.isPaused(), true);
    await shot(page, "queue-paused");
    await page.getByRole("button", { name: "Resume queue" }).click();
    await page.getByText("Queue resumed", { exact: true }).waitFor();
    assert.equal(await emails.isPaused(), false);

  });

  test("a schedule runs now: a run of it lands in its queue", async () => {
    await visit(page, "/schedules", "schedules");
    const before = (await reports.counts()).waiting;
    await page.getByRole("button", { name: "Run now: monthly" }).click();
    await page.getByText("Schedule monthly ran", { exact: true }).waitFor();
    assert.equal((await reports.counts()).waiting, before + 1);

  });

  test("a flow's tree, dead letters, the audit log (the actions above in it), broadcasting and health pass axe", async () => {
    const flow = await conveyor.flow({ queue: "reports", job: report, payload: { month: "2026-09" }, children: [{ queue: "reports", job: report, payload: { month: "2026-09-eu" } }] });
    await visit(page, `/queues/reports/jobs/${flow.job.id}`, "job-flow-parent");
    await visit(page, `/queues/reports/flows/${flow.job.id}`, "flow-tree");
    assert.equal(await page.locator(".tree li").count(), 2);
    await visit(page, "/queues/emails/dead", "dead-letters");
    await visit(page, "/schedules/monthly", "schedule-edit");
    await visit(page, "/queues/emails?state=completed&name=email", "queue-by-name");
    await visit(page, "/audit", "audit");
    await page.getByText("queue.pause").first().waitFor();
    await visit(page, "/broadcasting", "broadcasting");
    await visit(page, "/health", "health");
    await visit(page, "", "overview-after");
    await page.close();
  });

  test("a forged form is refused (CSRF); a read-only token sees no buttons and is refused by the API", async () => {
    const page = await context.newPage();
    await page.goto(`${origin}${base}/queues/emails`);
    const job = await emails.add(email, { to: "fail@example.com" }, { attempts: 1 });
    await waitUntil(async () => (await emails.get(job.id))!.state === "dead", 30_000, "the failing job is dead");
    const post = (csrf: string) =>
      page.evaluate(async ([url, csrf]) => {
        const res = await fetch(url!, { method: "POST", body: new URLSearchParams({ csrf: csrf! }), credentials: "same-origin" });
        return res.status;
      }, [`${base}/do/queues/emails/jobs/${job.id}/retry`, csrf]);
    assert.equal(await post("forged-token"), 403);
    assert.equal((await emails.get(job.id))!.state, "dead", "nothing done");

    // Sign out, sign in read-only.
    await page.getByRole("button", { name: /Sign out/ }).click();
    await page.waitForURL(`**${base}/sign-in`);
    await page.getByLabel("Access token (JWT)").fill(await token("jobs:read ops:read audit:read schedules:read", "rita"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${origin}${base}`);
    await page.goto(`${origin}${base}/queues/emails/jobs/${job.id}`);
    assert.equal(await page.locator(`form[action*="/do/"]`).count(), 0, "no action buttons");
    assert.equal(await page.getByRole("button", { name: "Retry" }).count(), 0);
    await shot(page, "job-read-only");
    await axe(page, "job-read-only");
    const csrf = await page.locator('form[action$="/sign-out"] input[name=csrf]').getAttribute("value");
    assert.equal(await post(csrf!), 403, "a valid form, refused by the route's scope check");
    assert.equal((await emails.get(job.id))!.state, "dead");
    await page.goto(`${origin}${base}/schedules`);
    assert.equal(await page.getByRole("button", { name: /Run now/ }).count(), 0);
    await page.close();
  });
});
