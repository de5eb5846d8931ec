// What no well-behaved client sends: bad frames, forged or borrowed signatures, wrong keys, silence.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FakeClock } from "../mod.ts";
import { APP, rawClient, startBroadcastServer, userToken } from "./support/broadcast-server.ts";
import { runtime } from "./support/runtime.ts";

type Server = Awaited<ReturnType<typeof startBroadcastServer>>;

async function channelAuth(server: Server, socketId: string, channel: string, sub = "alice") {
  const res = await fetch(`${server.url}/broadcasting/auth`, {
    method: "POST",
    headers: { authorization: `Bearer ${await userToken(sub)}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ socket_id: socketId, channel_name: channel }),
  });
  return { status: res.status, body: await res.json() as { auth?: string; channel_data?: string; error?: { code: string } } };
}

describe(`Pusher protocol edges (${runtime})`, () => {
  let server: Server;
  before(async () => server = await startBroadcastServer({ maxMessageBytes: 1_000 }));
  after(async () => await server.close());

  test("bad frames get pusher:error and the connection stays usable", async () => {
    const c = await rawClient(server.port);
    await c.socketId();
    const cases: [string, unknown, number][] = [
      ["invalid JSON", "{not json", 4200],
      ["not an object", "[1,2]", 4200],
      ["unknown event", { event: "pusher:launch", data: {} }, 4200],
      ["subscribe without a channel", { event: "pusher:subscribe", data: {} }, 4200],
      ["bad channel name", { event: "pusher:subscribe", data: { channel: "has space" } }, 4200],
      ["oversized frame", { event: "client-big", channel: "private-x", data: "x".repeat(2_000) }, 4009],
      ["client event on a public channel", { event: "client-hi", channel: "news", data: {} }, 4301],
      ["client event on a channel not joined", { event: "client-hi", channel: "private-x", data: {} }, 4301],
    ];
    for (const [what, frame, code] of cases) {
      const from = c.frames.length;
      c.send(frame);
      const error = await c.next("pusher:error", from);
      assert.equal(error.data.code, code, `${what}: ${JSON.stringify(error.data)}`);
      assert.equal(typeof error.data.message, "string");
    }
    const from = c.frames.length;
    c.send({ event: "pusher:ping", data: {} });
    await c.next("pusher:pong", from);
    assert.equal(c.closeCode, null, "still connected");
    c.close();
  });

  test("private and presence subscriptions need a valid signature for this very socket", async () => {
    const c = await rawClient(server.port);
    const socketId = await c.socketId();
    const refused = async (data: Record<string, unknown>) => {
      const from = c.frames.length;
      c.send({ event: "pusher:subscribe", data });
      const error = await c.next("pusher:subscription_error", from);
      assert.equal(error.data.status, 401, JSON.stringify(error));
    };
    await refused({ channel: "private-orders" });
    await refused({ channel: "private-orders", auth: `${APP.key}:${"0".repeat(64)}` });
    await refused({ channel: "private-orders", auth: `other-key:${"0".repeat(64)}` });

    // A signature made for another socket, replayed here.
    const other = await rawClient(server.port);
    const borrowed = await channelAuth(server, await other.socketId(), "private-orders");
    assert.equal(borrowed.status, 200);
    await refused({ channel: "private-orders", auth: borrowed.body.auth });
    // A signature for another channel.
    const elsewhere = await channelAuth(server, socketId, "private-other");
    await refused({ channel: "private-orders", auth: elsewhere.body.auth });
    // Presence: channel_data changed after signing (claiming to be someone else).
    const presence = await channelAuth(server, socketId, "presence-room");
    await refused({ channel: "presence-room", auth: presence.body.auth, channel_data: JSON.stringify({ user_id: "mallory" }) });
    await refused({ channel: "presence-room", auth: presence.body.auth });

    const good = await channelAuth(server, socketId, "private-orders");
    const from = c.frames.length;
    c.send({ event: "pusher:subscribe", data: { channel: "private-orders", auth: good.body.auth } });
    assert.equal((await c.next("pusher_internal:subscription_succeeded", from)).channel, "private-orders");
    assert.equal((await channelAuth(server, socketId, "private-secret")).status, 403, "the authoriser says no");
    assert.equal((await channelAuth(server, "not-a-socket", "private-orders")).status, 400);
    c.close();
    other.close();
  });

  test("wrong app key or protocol version closes with the protocol's codes", async () => {
    const wrongKey = await rawClient(server.port, "/app/nope?protocol=7");
    await wrongKey.waitFor(() => wrongKey.closeCode !== null, "close");
    assert.equal(wrongKey.closeCode, 4001);
    const noVersion = await rawClient(server.port, `/app/${APP.key}`);
    await noVersion.waitFor(() => noVersion.closeCode !== null, "close");
    assert.equal(noVersion.closeCode, 4008);
    const oldVersion = await rawClient(server.port, `/app/${APP.key}?protocol=5`);
    await oldVersion.waitFor(() => oldVersion.closeCode !== null, "close");
    assert.equal(oldVersion.closeCode, 4007);
  });
});

describe(`Pusher activity timeout (${runtime})`, () => {
  test("a silent client is pinged after activity_timeout, and closed with 4201 when the pong timeout passes (fake time)", async () => {
    // Liveness runs on the broadcaster's clock: checks every 250 ms of fake time here.
    const clock = new FakeClock();
    const server = await startBroadcastServer({ activityTimeoutSec: 1, pongTimeoutMs: 500, clock });
    try {
      const c = await rawClient(server.port);
      const established = await c.next("pusher:connection_established");
      assert.equal(JSON.parse(established.data).activity_timeout, 1);
      // A marker published after each step: frames arrive in order, so anything sent before it is already here.
      c.send({ event: "pusher:subscribe", data: { channel: "marks" } });
      await c.next("pusher_internal:subscription_succeeded");
      // Returns the events received since the previous marker, this one included.
      let since = c.frames.length;
      const mark = async (n: number) => {
        await server.broadcaster.publish("marks", "mark", { n });
        await c.next("mark", since);
        const events = c.frames.slice(since).map((f) => f.event);
        since = c.frames.length;
        return events;
      };

      await clock.advance(999);
      assert.deepEqual(await mark(1), ["mark"], "no ping before 1 s of silence");
      await clock.advance(1);
      assert.deepEqual(await mark(2), ["pusher:ping", "mark"]);
      await clock.advance(499);
      assert.deepEqual(await mark(3), ["mark"], "still open 499 ms after the ping");
      assert.equal(c.closeCode, null);
      await clock.advance(1);
      await c.waitFor(() => c.closeCode !== null, "close after an unanswered ping");
      assert.equal(c.closeCode, 4201);
    } finally {
      await server.close();
    }
  });
});
