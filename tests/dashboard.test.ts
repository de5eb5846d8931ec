// The dashboard over app.request() (every runtime): off by default, sign-in and its cookie,
// CSRF, scopes, redaction, paging, mounting under a prefix and the live stream.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createApp } from "../http.ts";
import * as v from "valibot";
import { createConveyor, defineJob, FakeClock } from "../mod.ts";
import { sparkline, Throughput } from "../src/dashboard/throughput.ts";
import { waitUntil } from "./support/harness.ts";
import { Client, dashboardServer, email, SECRET, token } from "./support/dashboard.ts";

const PAGES = ["", "/queues/emails", "/queues/emails/dead", "/schedules", "/audit", "/broadcasting", "/health"];

describe("Dashboard", () => {
  test("off by default: no page, the API's own JSON 404", async () => {
    const conveyor = createConveyor();
    const app = createApp(conveyor, { auth: { secret: SECRET } });
    const res = await app.request("/dashboard");
    assert.equal(res.status, 404);
    assert.match(res.headers.get("content-type") ?? "", /json/);
    assert.throws(() => createApp(conveyor, { auth: false, dashboard: { path: "no-slash" } }), /path/);
    // On: the API's answers and fallbacks stay as they were, beside the pages.
    const server = dashboardServer();
    const unknown = await server.host.request(`${server.base}/no-such-page`);
    assert.deepEqual([unknown.status, (await unknown.json()).error.code], [404, "NOT_FOUND"]);
    const api = await server.host.request("/ops/queues");
    assert.equal(api.status, 401, "the API still wants its bearer token");
    await api.body?.cancel();
    const wrongMethod = await server.host.request("/ops/queues", { method: "PATCH" });
    assert.equal(wrongMethod.status, 405);
    await wrongMethod.body?.cancel();
    const openapi = await server.host.request("/ops/openapi.json");
    assert.doesNotMatch(await openapi.text(), /dashboard/, "pages are not API routes");
    const long = await new Client(server).signIn(await token("admin", "x".repeat(4_000)));
    assert.deepEqual([long.status, /keeps tokens of up to 3800/.test(long.text)], [400, true]);
    await server.conveyor.close();
    await conveyor.close();
  });

  test("sign-in sets an HttpOnly, SameSite=Strict cookie on the dashboard's path, Secure over https; bad tokens and forged forms are refused", async () => {
    const server = dashboardServer({ prefix: "/t/acme", dashboard: { path: "/ui" } });
    const client = new Client(server);
    const first = await client.get(`${server.base}`);
    assert.deepEqual([first.status, first.headers.get("location")], [303, "/t/acme/ui/sign-in"]);

    const forged = await client.send("POST", `${server.base}/sign-in`, { csrf: "guess", token: await token("admin") });
    assert.equal(forged.status, 403, "a sign-in form that did not come from the page");
    assert.equal(client.cookies.has("conveyor_session"), false);
    const bad = await client.signIn(await token("admin").then((t) => t.slice(0, -3) + "AAA"));
    assert.equal(bad.status, 401);
    assert.match(bad.text, /signature/);
    assert.equal(client.cookies.has("conveyor_session"), false);

    const signed = await client.signIn(await token("admin"));
    assert.deepEqual([signed.status, signed.headers.get("location")], [303, "/t/acme/ui"]);
    const cookie = signed.headers.getSetCookie().find((c) => c.startsWith("conveyor_session="))!;
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.match(cookie, /; Path=\/t\/acme\/ui(;|$)/);
    assert.doesNotMatch(cookie, /Secure/, "plain http: a Secure cookie would never come back");
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)![1]);
    assert.ok(maxAge > 500 && maxAge <= 600, `the token's 10 minutes: ${maxAge}`);

    const https = new Client(server, "https://localhost");
    const secure = await https.signIn(await token("admin"));
    assert.match(secure.headers.getSetCookie().find((c) => c.startsWith("conveyor_session="))!, /; Secure/);

    const overview = await client.get(server.base);
    assert.equal(overview.status, 200);
    assert.match(overview.text, /<th scope="row"><a href="\/t\/acme\/ui\/queues\/emails">emails<\/a>/);
    const out = await client.send("POST", `${server.base}/sign-out`, { csrf: Client.csrfOf(overview) });
    assert.equal(out.status, 303);
    assert.equal(client.cookies.has("conveyor_session"), false);
    assert.equal((await client.get(server.base)).status, 303);
    await server.conveyor.close();
  });

  test("failed sign-ins are throttled as the API's failed authentications are", async () => {
    const server = dashboardServer();
    const client = new Client(server);
    const forged = await token("admin").then((t) => t.slice(0, -3) + "AAA");
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await client.signIn(forged)).status);
    assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
    const blocked = await client.signIn(await token("admin"));
    assert.equal(blocked.status, 429, "even a good token waits once the allowance is spent");
    assert.ok(Number(blocked.headers.get("retry-after")) > 0);
    await server.conveyor.close();
  });

  test("every page: HTML with a strict CSP, assets from the app only, links under the mount point", async () => {
    const server = dashboardServer();
    await server.conveyor.queue("emails").add(email, { to: "a@example.com" });
    const client = new Client(server);
    await client.signIn(await token("admin"));
    let weight = 0;
    for (const path of [...PAGES, "/queues/emails/jobs/1"]) {
      const page = await client.get(`${server.base}${path}`);
      assert.equal(page.status, 200, `${path}: ${page.text.slice(0, 300)}`);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
      assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'; script-src 'self'/);
      assert.doesNotMatch(page.text, /(src|href)="(https?:)?\/\//, `${path}: nothing from elsewhere`);
      for (const [, url] of page.text.matchAll(/(?:src|href|action)="([^"#]+)"/g)) assert.ok(url!.startsWith(server.base) || url === "data:,", `${path}: ${url}`);
      if (path === "") weight = page.text.length;
    }
    for (const asset of ["/assets/dashboard.css", "/assets/dashboard.js"]) {
      const res = await client.get(`${server.base}${asset}`);
      assert.equal(res.status, 200);
      weight += res.text.length;
    }
    assert.ok(weight < 150_000, `first load ${weight} bytes`);
    await server.conveyor.close();
  });

  test("actions need the CSRF token of the session; with it the app's route runs", async () => {
    const server = dashboardServer();
    const queue = server.conveyor.queue("emails");
    const job = await queue.add(email, { to: "a@example.com" });
    await queue.cancel(job.id);
    const client = new Client(server);
    await client.signIn(await token("admin"));
    const page = await client.get(`${server.base}/queues/emails/jobs/${job.id}`);
    assert.match(page.text, new RegExp(`action="${server.base}/do/queues/emails/jobs/${job.id}/retry"`));
    const retry = `${server.base}/do/queues/emails/jobs/${job.id}/retry`;
    for (const csrf of [undefined, "wrong", Client.csrfOf(page).slice(1)]) {
      const refused = await client.send("POST", retry, csrf === undefined ? {} : { csrf });
      assert.equal(refused.status, 403, `csrf ${csrf}`);
      assert.match(refused.text, /CSRF/);
    }
    const crossSite = await client.send("POST", retry, { csrf: Client.csrfOf(page) }, { "sec-fetch-site": "cross-site" });
    assert.equal(crossSite.status, 403);
    assert.equal((await queue.get(job.id))!.state, "cancelled", "nothing was done");

    const done = await client.send("POST", retry, { csrf: Client.csrfOf(page), back: `${server.base}/queues/emails/jobs/${job.id}` });
    assert.equal(done.status, 303);
    assert.equal(done.headers.get("location"), `${server.base}/queues/emails/jobs/${job.id}?notice=Job+${job.id}+retried`);
    const after = await queue.get(job.id);
    assert.deepEqual([after!.state, after!.changedBy?.by], ["waiting", "ada"], "through the route: the token's subject recorded");
    const away = await client.send("POST", `${server.base}/do/queues/emails/pause`, { csrf: Client.csrfOf(page), back: "https://evil.example/" });
    assert.equal(away.headers.get("location"), `${server.base}?notice=Queue+paused`, "never an open redirect");
    assert.equal(await queue.isPaused(), true);
    assert.equal((await client.send("POST", `${server.base}/do/queues/emails/explode`, { csrf: Client.csrfOf(page) })).status, 404);
    await server.conveyor.close();
  });

  test("a read-only token sees no action and is refused by the route", async () => {
    const server = dashboardServer();
    const queue = server.conveyor.queue("emails");
    const job = await queue.add(email, { to: "a@example.com", apiKey: "sk_live_51HcDsecretsecretsecret" });
    await queue.cancel(job.id);
    const reader = new Client(server);
    await reader.signIn(await token("jobs:read", "rita"));
    for (const path of ["/queues/emails", `/queues/emails/jobs/${job.id}`, "/queues/emails/dead"]) {
      const page = await reader.get(`${server.base}${path}`);
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.text, /\/do\//, `${path}: no action forms`);
      assert.doesNotMatch(page.text, /sk_live_51HcD/, `${path}: payload redacted without jobs:payload`);
    }
    const page = await reader.get(`${server.base}/queues/emails/jobs/${job.id}`);
    const refused = await reader.send("POST", `${server.base}/do/queues/emails/jobs/${job.id}/retry`, { csrf: Client.csrfOf(page) });
    assert.equal(refused.status, 403);
    assert.match(refused.text, /jobs:write/);
    assert.equal((await queue.get(job.id))!.state, "cancelled");
    assert.equal((await reader.get(`${server.base}/schedules`)).status, 403, "schedules:read missing: the route's 403");

    const admin = new Client(server);
    await admin.signIn(await token("admin"));
    assert.match((await admin.get(`${server.base}/queues/emails/jobs/${job.id}`)).text, /sk_live_51HcD/, "admin reads the payload as stored");
    await server.conveyor.close();
  });

  test("paging: a page of pageSize with next and previous links, page N of M", async () => {
    const server = dashboardServer({ dashboard: { pageSize: 50 } });
    const queue = server.conveyor.queue("emails");
    await queue.addBulk(Array.from({ length: 120 }, (_, i) => ({ job: email, payload: { to: `${i}@example.com` } })));
    const client = new Client(server);
    await client.signIn(await token("admin"));
    const rows = (text: string) => [...text.matchAll(/<th scope="row"><a href="[^"]+\/jobs\/[^"]+">/g)].length;
    const first = await client.get(`${server.base}/queues/emails?state=waiting`);
    assert.equal(rows(first.text), 50);
    assert.match(first.text, /Page 1 of 3/);
    assert.match(first.text, /rel="next"/);
    const last = await client.get(`${server.base}/queues/emails?state=waiting&page=3`);
    assert.equal(rows(last.text), 20);
    assert.doesNotMatch(last.text, /rel="next"/);
    assert.match(last.text, /rel="prev"/);
    const sms = defineJob("sms", v.object({}));
    await queue.register(sms).add(sms, {});
    const named = await client.get(`${server.base}/queues/emails?state=waiting&name=sms`);
    assert.equal(rows(named.text), 1, "by name: the one sms among 121");
    assert.match(named.text, /Jobs named “sms” among the first 1,000 waiting jobs: 1/);
    const bulk = await client.send("POST", `${server.base}/do/queues/emails/jobs/bulk-remove`, { csrf: Client.csrfOf(last), id: ["1", "2", "3"] });
    assert.equal(bulk.status, 303);
    assert.equal((await queue.counts()).waiting, 118);
    await server.conveyor.close();
  });

  test("live: one SSE stream for the page's queues, ready once all are, then their events", async () => {
    const server = dashboardServer();
    const client = new Client(server);
    await client.signIn(await token("admin"));
    const res = await server.host.request(`${server.base}/live?queues=emails`, { headers: { cookie: `conveyor_session=${client.cookies.get("conveyor_session")}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const next = await reader.read();
        assert.equal(next.done, false, `stream ended before ${pattern}: ${text}`);
        text += next.value;
      }
    };
    await until(/event: ready/);
    await server.conveyor.queue("emails").add(email, { to: "live@example.com" });
    await until(/data: \{"type":"enqueued"/);
    await reader.cancel();
    const anonymous = await server.host.request(`${server.base}/live?queues=emails`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    await server.conveyor.close();
  });

  test("a schedule is edited as the JSON of its PUT body, prefilled from what is stored; bad JSON and bad bodies change nothing", async () => {
    const server = dashboardServer();
    const scheduler = server.conveyor.scheduler({ autostart: false });
    await scheduler.schedule("nightly", "0 2 * * *", { queue: "emails", job: email, payload: { to: "ops@example.com" } }, { timezone: "Europe/Paris", maxRuns: 9 });
    const client = new Client(server);
    await client.signIn(await token("admin"));
    const page = await client.get(`${server.base}/schedules/nightly`);
    assert.equal(page.status, 200);
    const textarea = /<textarea[^>]*>([^<]*)<\/textarea>/.exec(page.text)![1]!;
    const unescaped = textarea.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    const body = JSON.parse(unescaped);
    assert.deepEqual(body.when, { cron: "0 2 * * *" });
    assert.deepEqual([body.job, body.payload, body.options.timezone, body.options.maxRuns], ["email", { to: "ops@example.com" }, "Europe/Paris", 9]);
    const edit = `${server.base}/do/schedules/nightly/edit`;
    const csrf = Client.csrfOf(page);
    assert.equal((await client.send("POST", edit, { csrf, body: "{ not json" })).status, 400);
    const refused = await client.send("POST", edit, { csrf, body: JSON.stringify({ ...body, when: { cron: "" } }) });
    assert.equal(refused.status, 400);
    assert.equal((await scheduler.get("nightly"))!.cron, "0 2 * * *", "nothing saved");
    const saved = await client.send("POST", edit, { csrf, body: JSON.stringify({ ...body, when: { cron: "30 3 * * *" } }), back: `${server.base}/schedules/nightly` });
    assert.deepEqual([saved.status, saved.headers.get("location")], [303, `${server.base}/schedules/nightly?notice=Schedule+nightly+saved`]);
    const after = (await scheduler.get("nightly"))!;
    assert.deepEqual([after.cron, after.timezone, after.maxRuns], ["30 3 * * *", "Europe/Paris", 9], "the rest as it was");
    const reader = new Client(server);
    await reader.signIn(await token("schedules:read"));
    assert.doesNotMatch((await reader.get(`${server.base}/schedules/nightly`)).text, /<textarea|\/do\//);
    scheduler.close();
    await server.conveyor.close();
  });

  test("the overview's last-hour charts: completions and failed attempts a minute, on the conveyor's clock", async () => {
    const clock = new FakeClock({ startMs: Date.UTC(2026, 11, 4, 12, 0, 0) });
    const throughput = new Throughput(clock);
    const events = new EventTarget();
    throughput.watch({ name: "q", events } as never);
    const fire = (type: string, n: number) => {
      for (let i = 0; i < n; i++) events.dispatchEvent(new Event(type));
    };
    fire("completed", 3);
    fire("failed", 1);
    await clock.advance(5 * 60_000);
    fire("completed", 2);
    let hour = throughput.lastHour("q");
    assert.deepEqual([hour.completed.length, hour.completed[59], hour.completed[54], hour.failed[54]], [60, 2, 3, 1]);
    assert.match(sparkline(hour, "q").text, /aria-label="q, last hour: 5 completed, 1 failed attempts \(16\.7 % failed\)"/);
    await clock.advance(56 * 60_000);
    hour = throughput.lastHour("q");
    assert.equal(hour.completed.reduce((a, b) => a + b, 0), 2, "the first minute has left the hour");

    const server = dashboardServer();
    server.conveyor.worker("emails").handle(email, ({ to }) => {
      if (to.startsWith("fail")) throw new Error("no");
    });
    const queue = server.conveyor.queue("emails");
    await queue.add(email, { to: "ok@example.com" });
    await queue.add(email, { to: "fail@example.com" }, { attempts: 1 });
    await waitUntil(async () => (await queue.counts()).completed === 1 && (await queue.counts()).dead === 1, 10_000, "both jobs ended");
    const client = new Client(server);
    await client.signIn(await token("admin"));
    assert.match((await client.get(server.base)).text, /<svg role="img" aria-label="emails, last hour: 1 completed, 1 failed attempts \(50\.0 % failed\)"/);
    await server.conveyor.close();
  });

  test("with auth off: no sign-in, a session nonce still guards every form", async () => {
    const server = dashboardServer({ auth: false });
    const queue = server.conveyor.queue("emails");
    const client = new Client(server);
    const overview = await client.get(`${server.base}/queues/emails`);
    assert.equal(overview.status, 200);
    assert.match(overview.headers.getSetCookie().join(), /conveyor_session=.*HttpOnly.*SameSite=Strict/);
    assert.equal((await client.send("POST", `${server.base}/do/queues/emails/pause`, {})).status, 403);
    assert.equal((await client.send("POST", `${server.base}/do/queues/emails/pause`, { csrf: Client.csrfOf(overview) })).status, 303);
    assert.equal(await queue.isPaused(), true);
    await server.conveyor.close();
  });
});
