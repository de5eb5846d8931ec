// Broadcasting keeps time by the broadcaster's clock: liveness, client-event rate limits, channel
// auth tokens and the HTTP API's signature window, all driven here by a FakeClock, no server needed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SignJWT } from "jose";
import { FakeClock } from "../mod.ts";
import { createBroadcastApp } from "../http.ts";
import { Broadcaster } from "../broadcast.ts";
import { APP, authorize, JWT_SECRET } from "./support/broadcast-server.ts";

/** A socket that records what the hub sends it. */
function fakeSocket() {
  const events: string[] = [];
  let closedWith: number | null = null;
  return {
    events,
    get closedWith() {
      return closedWith;
    },
    send: (text: string) => void events.push((JSON.parse(text) as { event: string }).event),
    close: (code?: number) => void (closedWith = code ?? null),
  };
}

async function hub(clock: FakeClock, options: { activityTimeoutSec?: number; pongTimeoutMs?: number } = {}) {
  const broadcaster = new Broadcaster({ ...APP, authorize, clock, ...options });
  await broadcaster.ready();
  return broadcaster;
}

/** Hex HMAC-SHA256, as the Pusher HTTP API signs requests. */
async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("Broadcasting on an injected clock", () => {
  test("a silent socket is pinged at activity_timeout and closed (4201) at the pong timeout, to the millisecond", async () => {
    const clock = new FakeClock();
    const broadcaster = await hub(clock, { activityTimeoutSec: 1, pongTimeoutMs: 500 });
    const socket = fakeSocket();
    assert.ok(broadcaster.accept(socket, { key: APP.key, protocol: "7" }));
    await clock.advance(999);
    assert.deepEqual(socket.events, ["pusher:connection_established"]);
    await clock.advance(1);
    assert.deepEqual(socket.events, ["pusher:connection_established", "pusher:ping"]);
    await clock.advance(499);
    assert.equal(socket.closedWith, null);
    await clock.advance(1);
    assert.equal(socket.closedWith, 4201);
    assert.equal(broadcaster.connectionCount, 0);
    await broadcaster.close();
  });

  test("a socket that answers stays: any frame counts as activity on the fake clock", async () => {
    const clock = new FakeClock();
    const broadcaster = await hub(clock, { activityTimeoutSec: 1, pongTimeoutMs: 500 });
    const socket = fakeSocket();
    const connection = broadcaster.accept(socket, { key: APP.key, protocol: "7" })!;
    for (let i = 0; i < 10; i++) {
      await clock.advance(1_000);
      assert.equal(socket.events.at(-1), "pusher:ping");
      await connection.receive(JSON.stringify({ event: "pusher:pong", data: {} }));
    }
    assert.equal(socket.closedWith, null, "ten pings answered over ten fake seconds: still open");
    await broadcaster.close();
  });

  test("client events are limited to 10 per second of the broadcaster's clock", async () => {
    const clock = new FakeClock();
    const broadcaster = await hub(clock);
    const sender = fakeSocket();
    const connection = broadcaster.accept(sender, { key: APP.key, protocol: "7" })!;
    await broadcaster.subscribe(connection, "private-chat", null);
    const send = () => connection.receive(JSON.stringify({ event: "client-typing", channel: "private-chat", data: {} }));
    for (let i = 0; i < 10; i++) await send();
    assert.ok(!sender.events.includes("pusher:error"), "ten go through");
    await send();
    assert.equal(sender.events.at(-1), "pusher:error", "the eleventh within the second is rejected");
    await clock.advance(999);
    await send();
    assert.equal(sender.events.filter((e) => e === "pusher:error").length, 2, "still the same second");
    await clock.advance(1);
    await send();
    assert.equal(sender.events.filter((e) => e === "pusher:error").length, 2, "a new second, a new allowance");
    await broadcaster.close();
  });

  test("channel auth judges the JWT on the broadcaster's clock: exp at T+60 s passes at T+59 s, refused at T+61 s", async () => {
    // Fake time starts months before the wall clock: on the system clock this token would be long expired.
    const clock = new FakeClock();
    const broadcaster = await hub(clock);
    const app = createBroadcastApp(broadcaster, { auth: { secret: JWT_SECRET, clockToleranceSec: 0 } });
    const token = await new SignJWT({ scope: "" }).setProtectedHeader({ alg: "HS256" }).setSubject("alice")
      .setExpirationTime(clock.now() / 1000 + 60).sign(new TextEncoder().encode(JWT_SECRET));
    const channelAuth = async () =>
      (await app.request("/broadcasting/auth", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ socket_id: "1.2", channel_name: "private-orders" }),
      })).status;
    await clock.advance(59_000);
    assert.equal(await channelAuth(), 200);
    await clock.advance(2_000);
    assert.equal(await channelAuth(), 401);
    await broadcaster.close();
  });

  test("the HTTP API's signature window (600 s) is measured on the broadcaster's clock", async () => {
    const clock = new FakeClock();
    const broadcaster = await hub(clock);
    const app = createBroadcastApp(broadcaster, { auth: false });
    const path = `/apps/${APP.appId}/channels`;
    const signedAt = clock.now() / 1000;
    const query = `auth_key=${APP.key}&auth_timestamp=${signedAt}&auth_version=1.0`;
    const url = `${path}?${query}&auth_signature=${await hmacHex(APP.secret, `GET\n${path}\n${query}`)}`;
    assert.equal((await app.request(url)).status, 200);
    await clock.advance(600_000);
    assert.equal((await app.request(url)).status, 200, "600 s later: still within the window");
    await clock.advance(1_000);
    assert.equal((await app.request(url)).status, 401, "601 s later: too old");
    await broadcaster.close();
  });
});
