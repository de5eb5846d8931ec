// Both apps on one host, as the README mounts them: each app's body limit, auth and fallbacks
// cover its own routes only, and queues exist because code declared them, never because a
// client named them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Hono } from "hono";
import { SignJWT } from "jose";
import { createConveyor, FakeClock } from "../mod.ts";
import { createApp } from "../http.ts";
import { badInputApps, note } from "./support/bad-input.ts";
import { APP } from "./support/broadcast-server.ts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";

describe("Two apps on one host", () => {
  test("a 205 KB job is stored beside the broadcast app's 100 KiB limit, which still holds for its own routes", async () => {
    for (const order of ["jobsFirst", "broadcastFirst"] as const) {
      const apps = await badInputApps();
      const host = apps.hosts[order];
      const admin = { authorization: `Bearer ${apps.tokens.admin}` };
      const job = await apps.send(host, "POST", "/jobs/queues/emails/jobs", { headers: admin, body: { name: "note", payload: { text: "x".repeat(205_000) } } });
      assert.equal(job.status, 201, `${order}: ${job.text.slice(0, 200)}`);
      assert.equal((await apps.conveyor.queue("emails").counts()).waiting, 1);
      const over = await apps.send(host, "POST", "/jobs/queues/emails/jobs", { headers: admin, body: { name: "note", payload: { text: "x".repeat(1_100_000) } } });
      assert.deepEqual([over.status, over.json.error.code], [413, "PAYLOAD_TOO_LARGE"], `${order}: the HTTP app's own 1 MiB limit`);
      const events = `/apps/${APP.appId}/events`;
      const big = JSON.stringify({ name: "e", data: "x".repeat(150_000), channel: "news" });
      const refused = await apps.send(host, "POST", `${events}?${await apps.pusherQuery("POST", events, big)}`, { raw: big });
      assert.deepEqual([refused.status, refused.json.error.code], [413, "PAYLOAD_TOO_LARGE"], `${order}: the broadcast app's 100 KiB`);
      await apps.close();
    }
  });

  test("both apps at the root: the HTTP app's auth does not reach the Pusher API, and each keeps its own 404 and 405", async () => {
    const apps = await badInputApps();
    const host = new Hono().get("/", (c) => c.text("home")).route("/", apps.jobs).route("/", apps.broadcast);
    const path = `/apps/${APP.appId}/channels`;
    const channels = await apps.send(host, "GET", `${path}?${await apps.pusherQuery("GET", path, null)}`);
    assert.equal(channels.status, 200, `signed, no bearer token needed: ${channels.text}`);
    assert.equal((await apps.send(host, "GET", "/queues")).status, 401, "the HTTP app's routes keep their auth");
    assert.equal((await apps.send(host, "GET", "/queues", { headers: { authorization: `Bearer ${apps.tokens.admin}` } })).status, 200);
    assert.equal(await (await host.request("/")).text(), "home", "the host's own route is untouched");
    const missing = await apps.send(host, "GET", "/nowhere");
    assert.deepEqual([missing.status, missing.json.error.code], [404, "NOT_FOUND"]);
    const wrong = await apps.send(host, "DELETE", "/broadcasting/auth");
    assert.deepEqual([wrong.status, wrong.headers.get("allow")], [405, "POST"]);
    assert.equal((await apps.send(host, "PUT", "/queues")).headers.get("allow"), "GET, HEAD");
    await apps.close();
  });

  test("under a prefix, paths outside it stay the host's", async () => {
    const apps = await badInputApps();
    const host = new Hono().route("/jobs", apps.jobs);
    host.get("/page", (c) => c.text("missing page", 404));
    const page = await host.request("/page");
    assert.deepEqual([page.status, await page.text()], [404, "missing page"], "a host route's own 404 is left alone");
    const outside = await host.request("/elsewhere");
    assert.equal(await outside.text(), "404 Not Found", "the host's not-found outside the prefix is its own");
    const inside = await apps.send(host, "GET", "/jobs/elsewhere");
    assert.deepEqual([inside.status, inside.json.error.code], [404, "NOT_FOUND"]);
    await apps.close();
  });
});

describe("Declared queues", () => {
  test("queues declared in code (conveyor.queue, a worker, later on) are served; names only a client sent are not made", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock });
    conveyor.queue("notes").register(note);
    conveyor.worker("reports", { autostart: false });
    const app = createApp(conveyor, { auth: { secret: SECRET } });
    const token = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(Math.floor(clock.now() / 1000) + 60)
      .sign(new TextEncoder().encode(SECRET));
    const get = async (path: string) => {
      const res = await app.request(path, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, json: await res.json() as any };
    };
    assert.equal((await get("/queues/notes/jobs?state=waiting")).status, 200);
    assert.equal((await get("/queues/reports/dead")).status, 200, "declared by its worker");
    for (let i = 0; i < 50; i++) assert.equal((await get(`/queues/probe-${i}/jobs?state=waiting`)).json.error.code, "QUEUE_NOT_FOUND");
    conveyor.queue("late");
    assert.equal((await get("/queues/late/jobs?state=waiting")).status, 200, "declared after the app was made");
    const names = (await get("/queues")).json.queues.map((q: { name: string }) => q.name);
    assert.deepEqual(names, ["notes", "reports", "late"]);
    assert.deepEqual((await get("/health")).json.queues.map((q: { name: string }) => q.name), names);
    await conveyor.close();
  });
});
