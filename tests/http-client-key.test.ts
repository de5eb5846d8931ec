// Who a request counts against: X-Forwarded-For only when trustProxy says so, else the address
// the runtime adapter recorded, else one shared key. Failed authentications are throttled per
// client (bad tokens on the HTTP app, bad signatures on the Pusher HTTP API), on fake time.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Hono } from "hono";
import { SignJWT } from "jose";
import { recordClientAddress, recordedClientAddress } from "../src/adapter/client-address.ts";
import { createConveyor, FakeClock, RateLimiter } from "../mod.ts";
import { createApp, createBroadcastApp } from "../http.ts";
import { Broadcaster } from "../broadcast.ts";
import { badInputApps } from "./support/bad-input.ts";
import { currentAdapter } from "./support/adapter.ts";
import { APP } from "./support/broadcast-server.ts";
import { runtime } from "./support/runtime.ts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const quietly = <T>(make: () => T): T => {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return make();
  } finally {
    console.warn = warn;
  }
};

/** An open app allowing 2 requests a minute per client, and a way to ask it as some client. */
function limited(trustProxy?: boolean | number) {
  const clock = new FakeClock();
  const conveyor = createConveyor({ clock });
  const limiter = new RateLimiter({ rule: { algorithm: "fixed-window", limit: 2, windowMs: 60_000 }, clock });
  const app = quietly(() => createApp(conveyor, { auth: false, rateLimit: { limiter }, trustProxy }));
  const ask = async (headers: Record<string, string> = {}, address?: string) => {
    const request = new Request("http://host/queues", { headers });
    if (address) recordClientAddress(request, address);
    return (await app.request(request)).status;
  };
  return { ask, close: () => conveyor.close() };
}

describe("Client keys", () => {
  test("X-Forwarded-For is not believed by default: rotating it does not buy more requests", async () => {
    const { ask, close } = limited();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await ask({ "x-forwarded-for": `198.51.100.${i}` }));
    assert.deepEqual(statuses, [200, 200, 429, 429], "one shared key when nothing names the client");
    await close();
  });

  test("the address the adapter recorded is the key, whatever X-Forwarded-For says", async () => {
    const { ask, close } = limited();
    assert.deepEqual([await ask({}, "203.0.113.1"), await ask({ "x-forwarded-for": "1.1.1.1" }, "203.0.113.1"), await ask({ "x-forwarded-for": "2.2.2.2" }, "203.0.113.1")], [200, 200, 429]);
    assert.equal(await ask({}, "203.0.113.2"), 200, "another connection has its own allowance");
    await close();
  });

  test("trustProxy: true believes the entry your proxy appended (the last), not what the client wrote before it", async () => {
    const { ask, close } = limited(true);
    const spoofed = [];
    for (let i = 0; i < 3; i++) spoofed.push(await ask({ "x-forwarded-for": `10.9.9.${i}, 198.51.100.7` }, "10.0.0.1"));
    assert.deepEqual(spoofed, [200, 200, 429], "the client's own entries change nothing");
    assert.equal(await ask({ "x-forwarded-for": "198.51.100.8" }, "10.0.0.1"), 200, "another client behind the same proxy");
    await close();
  });

  test("trustProxy: 2 counts two proxies from the right; a shorter chain falls back to the connection", async () => {
    const { ask, close } = limited(2);
    assert.deepEqual([await ask({ "x-forwarded-for": "6.6.6.6, 198.51.100.9, 10.0.0.2" }), await ask({ "x-forwarded-for": "7.7.7.7, 198.51.100.9, 10.0.0.3" })], [200, 200]);
    assert.equal(await ask({ "x-forwarded-for": "8.8.8.8, 198.51.100.9, 10.0.0.4" }), 429, "198.51.100.9 used its two");
    assert.equal(await ask({ "x-forwarded-for": "198.51.100.9" }, "203.0.113.9"), 200, "one entry for two proxies: not through them, so the connection counts");
    await close();
  });

  test(`the ${runtime} adapter records the connection's address as it serves`, async () => {
    const adapter = await currentAdapter();
    const served = await adapter.serve(new Hono().get("/who", (c) => c.text(recordedClientAddress(c.req.raw) ?? "nobody")), { port: 0 });
    try {
      const res = await fetch(`http://127.0.0.1:${served.port}/who`, { headers: { "x-forwarded-for": "198.51.100.1" } });
      assert.match(await res.text(), /^(::ffff:)?127\.0\.0\.1$/);
    } finally {
      await served.close();
    }
  });

  test("options are validated", () => {
    const conveyor = createConveyor();
    for (const bad of [{ trustProxy: "yes" }, { trustProxy: -1 }, { trustProxy: 1.5 }, { authFailureLimit: {} }, { authFailureLimit: true }]) {
      assert.throws(() => createApp(conveyor, { auth: { secret: SECRET }, ...bad } as never), TypeError, JSON.stringify(bad));
    }
  });
});

describe("Failed authentications are throttled per client", () => {
  test("the HTTP app: 10 bad tokens a minute, then 429 with Retry-After and no token checked, until the window passes", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock });
    const app = createApp(conveyor, { auth: { secret: SECRET } });
    const exp = Math.floor(clock.now() / 1000) + 3_600;
    const sign = (secret: string, sub: string) => new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime(exp).sign(new TextEncoder().encode(secret));
    const forged = await sign("someone-elses-secret-that-is-long-enough", "ada");
    const earlier = await sign(SECRET, "ada");
    const fresh = await sign(SECRET, "grace");
    const another = await sign(SECRET, "linus");
    const ask = async (token: string | null, address = "203.0.113.1") => {
      const request = new Request("http://host/queues", { headers: token ? { authorization: `Bearer ${token}` } : {} });
      recordClientAddress(request, address);
      const res = await app.request(request);
      return { status: res.status, retryAfter: res.headers.get("retry-after"), code: ((await res.json()) as { error?: { code: string } }).error?.code };
    };
    assert.equal((await ask(earlier)).status, 200, "verified before the attack");
    for (let i = 0; i < 20; i++) assert.equal((await ask(null)).status, 401, "no token at all is no guess: never counted");
    for (let i = 0; i < 10; i++) assert.equal((await ask(forged)).status, 401, `failure ${i + 1}`);
    const refused = await ask(forged);
    assert.deepEqual([refused.status, refused.code, refused.retryAfter], [429, "RATE_LIMITED", "60"]);
    assert.equal((await ask(fresh)).status, 429, "a real token is not even checked while the client is refused");
    assert.equal((await ask(earlier)).status, 200, "a token verified before stays usable: it is no guess");
    assert.equal((await ask(forged, "203.0.113.2")).status, 401, "another client has its own allowance");
    assert.equal((await ask(another, "203.0.113.2")).status, 200);
    await clock.advance(59_000);
    assert.equal((await ask(fresh)).status, 429);
    await clock.advance(1_000);
    assert.equal((await ask(fresh)).status, 200, "the window passed");
    assert.equal((await ask(forged)).status, 401);
    await conveyor.close();
  });

  test("a limiter of your own, or none", async () => {
    const clock = new FakeClock();
    const conveyor = createConveyor({ clock });
    const strict = createApp(conveyor, { auth: { secret: SECRET }, authFailureLimit: new RateLimiter({ rule: { algorithm: "fixed-window", limit: 2, windowMs: 1_000 }, clock }) });
    const open = createApp(conveyor, { auth: { secret: SECRET }, authFailureLimit: false });
    const bad = { headers: { authorization: "Bearer not.a.token" } };
    assert.deepEqual([(await strict.request("/queues", bad)).status, (await strict.request("/queues", bad)).status, (await strict.request("/queues", bad)).status], [401, 401, 429]);
    for (let i = 0; i < 30; i++) assert.equal((await open.request("/queues", bad)).status, 401);
    await conveyor.close();
  });

  test("the Pusher HTTP API: bad signatures are throttled too, then a good one passes once the window is over", async () => {
    const apps = await badInputApps();
    const clock = apps.clock;
    const broadcaster = new Broadcaster({ ...APP, clock });
    await broadcaster.ready();
    const app = createBroadcastApp(broadcaster, { auth: false });
    const path = `/apps/${APP.appId}/channels`;
    const ask = async (secret?: string) => {
      const request = new Request(`http://host${path}?${await apps.pusherQuery("GET", path, null, {}, secret)}`);
      recordClientAddress(request, "203.0.113.7");
      return (await app.request(request)).status;
    };
    assert.equal(await ask(), 200);
    const statuses = [];
    for (let i = 0; i < 11; i++) statuses.push(await ask("a-guessed-secret-0123456789"));
    assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
    assert.equal(await ask(), 429, "while refused, even the right signature is not checked");
    await clock.advance(60_000);
    assert.equal(await ask(), 200);
    await broadcaster.close();
    await apps.close();
  });
});
