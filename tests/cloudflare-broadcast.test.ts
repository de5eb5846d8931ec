// Pusher broadcasting in a Durable Object, run in workerd (through miniflare) and driven by
// unmodified pusher-js and the `pusher` server SDK: every channel kind, channel auth, client
// events, presence, pings, the signed HTTP API, job events from the Worker, and sockets that
// keep working after workerd evicted the object (the Hibernation API's point).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import PusherServer from "pusher";
import Pusher from "pusher-js";
import { jobChannel, queueChannel } from "../broadcast.ts";
import { APP, once, pusherOptions, rawClient, subscribed, userToken } from "./support/broadcast-server.ts";
import { runtime } from "./support/runtime.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`Pusher broadcasting in a Durable Object, in workerd (driven from ${runtime})`, () => {
  let mf: Miniflare;
  let origin: string;
  let port: number;
  let sdk: PusherServer;
  const clients: Pusher[] = [];
  const open = async (user: string | null) => {
    const client = new Pusher(APP.key, pusherOptions(port, user ? await userToken(user) : null));
    clients.push(client);
    return client;
  };
  const constructed = async () => Number(await (await fetch(`${origin}/test/constructed`)).text());

  before(async () => {
    const bundle = await build({
      entryPoints: ["tests/fixtures/cloudflare-broadcast-worker.ts"],
      bundle: true,
      format: "esm",
      platform: "browser",
      conditions: ["workerd", "worker", "browser"],
      write: false,
      logLevel: "silent",
    });
    mf = new Miniflare({ modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: "2025-09-01", durableObjects: { BROADCAST: "Broadcasts" } });
    const url = await mf.ready;
    origin = url.origin;
    port = Number(url.port);
    sdk = new PusherServer({ appId: APP.appId, key: APP.key, secret: APP.secret, host: "127.0.0.1", port: String(port), useTLS: false });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await mf?.dispose();
  });

  test("public channel: the pusher SDK triggers through the signed HTTP API, one event and a batch; channel info answers", async () => {
    const feed = (await open(null)).subscribe("feed");
    await subscribed(feed);
    const one = once(feed, "posted");
    assert.equal((await sdk.trigger("feed", "posted", { n: 1 })).status, 200);
    assert.deepEqual(await one, { n: 1 });
    const batch = [once(feed, "a"), once(feed, "b")];
    await sdk.triggerBatch([{ channel: "feed", name: "a", data: { n: 2 } }, { channel: "feed", name: "b", data: { n: 3 } }]);
    assert.deepEqual(await Promise.all(batch), [{ n: 2 }, { n: 3 }]);

    const channels = await (await sdk.get({ path: "/channels", params: {} })).json();
    assert.ok("feed" in channels.channels);
    assert.deepEqual(await (await sdk.get({ path: "/channels/feed", params: { info: "subscription_count" } })).json(), { occupied: true, subscription_count: 1 });
    assert.deepEqual(await (await sdk.get({ path: "/channels/nobody-here", params: {} })).json(), { occupied: false });
  });

  test("the HTTP API refuses a wrong secret, a wrong app and an unsigned request", async () => {
    const forged = new PusherServer({ appId: APP.appId, key: APP.key, secret: "not-the-secret-at-all!!", host: "127.0.0.1", port: String(port), useTLS: false });
    await assert.rejects(forged.trigger("feed", "posted", { n: 4 }), (error: { status?: number }) => error.status === 401);
    const otherApp = new PusherServer({ appId: "9999", key: APP.key, secret: APP.secret, host: "127.0.0.1", port: String(port), useTLS: false });
    await assert.rejects(otherApp.trigger("feed", "posted", { n: 5 }), (error: { status?: number }) => error.status === 404);
    const unsigned = await fetch(`${origin}/apps/${APP.appId}/events`, { method: "POST", body: JSON.stringify({ name: "x", data: "{}", channel: "feed" }) });
    assert.equal(unsigned.status, 401);
    assert.equal(((await unsigned.json()) as { error: { code: string } }).error.code, "UNAUTHENTICATED");
  });

  test("private channel: authorised by the Worker's auth endpoint; a refused user and a forged signature are rejected", async () => {
    const alice = await open("alice");
    const orders = alice.subscribe("private-orders");
    await subscribed(orders);
    const shipped = once(orders, "shipped");
    await sdk.trigger("private-orders", "shipped", { id: 7 });
    assert.deepEqual(await shipped, { id: 7 });

    assert.equal((await once(alice.subscribe("private-secret"), "pusher:subscription_error")).status, 403);
    assert.equal((await once((await open(null)).subscribe("private-orders"), "pusher:subscription_error")).status, 401);

    // What pusher-js never sends: a signature made for another socket, checked by the object itself.
    const raw = await rawClient(port);
    await raw.socketId();
    const signed = await (await fetch(`${origin}/broadcasting/auth`, {
      method: "POST",
      headers: { authorization: `Bearer ${await userToken("mallory")}`, "content-type": "application/json" },
      body: JSON.stringify({ socket_id: "1.2", channel_name: "private-orders" }),
    })).json() as { auth: string };
    raw.send({ event: "pusher:subscribe", data: { channel: "private-orders", auth: signed.auth } });
    const refused = await raw.next("pusher:subscription_error");
    assert.equal(refused.channel, "private-orders");
    assert.equal(refused.data.status, 401);
    raw.close();
  });

  test("presence channel: member lists, member_added and member_removed", async () => {
    const alice = await open("alice");
    const room = alice.subscribe("presence-room") as any;
    const mine = await subscribed(room);
    assert.equal(mine.count, 1);
    assert.deepEqual(mine.me, { id: "alice", info: { name: "alice" } });
    const added = once(room, "pusher:member_added");
    const bob = await open("bob");
    const bobs = await subscribed(bob.subscribe("presence-room"));
    assert.deepEqual(Object.keys(bobs.members).sort(), ["alice", "bob"]);
    assert.deepEqual(await added, { id: "bob", info: { name: "bob" } });
    const users = await (await sdk.get({ path: "/channels/presence-room/users", params: {} })).json();
    assert.deepEqual(users.users.map((u: { id: string }) => u.id).sort(), ["alice", "bob"]);

    const removed = once(room, "pusher:member_removed");
    bob.disconnect();
    assert.equal((await removed).id, "bob");
    assert.equal(room.members.count, 1);
  });

  test("client events reach the other subscribers of a private channel, not the sender; public channels refuse them", async () => {
    const alice = await open("alice");
    const bob = await open("bob");
    const a = alice.subscribe("private-chat");
    const b = bob.subscribe("private-chat");
    await Promise.all([subscribed(a), subscribed(b)]);
    const seenByAlice: unknown[] = [];
    a.bind("client-typing", (data: unknown) => seenByAlice.push(data));
    const received = once(b, "client-typing");
    assert.equal(a.trigger("client-typing", { who: "alice" }), true);
    assert.deepEqual(await received, { who: "alice" });
    const answered = once(a, "client-typing");
    assert.equal(b.trigger("client-typing", { who: "bob" }), true);
    await answered;
    assert.deepEqual(seenByAlice, [{ who: "bob" }], "no echo to the sender");

    const raw = await rawClient(port);
    await raw.socketId();
    raw.send({ event: "pusher:subscribe", data: { channel: "lobby" } });
    await raw.next("pusher_internal:subscription_succeeded");
    const from = raw.frames.length;
    raw.send({ event: "client-wave", channel: "lobby", data: {} });
    assert.match((await raw.next("pusher:error", from)).data.message, /private and presence channels only/);
    raw.close();
  });

  test("pings: pusher-js's exact frame is answered by the runtime, any other form by the object", async () => {
    const raw = await rawClient(port);
    await raw.socketId();
    raw.send(JSON.stringify({ event: "pusher:ping", data: {} }));
    await raw.next("pusher:pong");
    const from = raw.frames.length;
    raw.send({ event: "pusher:ping" });
    await raw.next("pusher:pong", from);
    raw.close();
  });

  test("a wrong app key and a missing protocol are refused with the protocol's close codes", async () => {
    const wrongKey = await rawClient(port, "/app/nope?protocol=7");
    await wrongKey.waitFor(() => wrongKey.closeCode !== null, "the close");
    assert.equal(wrongKey.closeCode, 4001);
    const noProtocol = await rawClient(port, `/app/${APP.key}`);
    await noProtocol.waitFor(() => noProtocol.closeCode !== null, "the close");
    assert.equal(noProtocol.closeCode, 4008);
  });

  test("job events of a queue in the Worker reach the object's channels, in order", async () => {
    const alice = await open("alice");
    const job = alice.subscribe(jobChannel("reports", "monthly:2026-11"));
    const all = alice.subscribe(queueChannel("reports"));
    await Promise.all([subscribed(job), subscribed(all)]);
    const seen: string[] = [];
    for (const type of ["enqueued", "active", "progress", "completed"]) job.bind(`job.${type}`, () => seen.push(type));
    const enqueued = once(all, "job.enqueued");
    const completed = once(job, "job.completed");
    assert.equal((await fetch(`${origin}/test/jobs/monthly:2026-11?pages=10`, { method: "POST" })).status, 201);
    assert.equal((await enqueued).jobId, "monthly:2026-11");
    assert.deepEqual((await completed).result, { pages: 10 });
    assert.deepEqual(seen, ["enqueued", "active", "progress", "completed"]);
  });

  test("after workerd evicts the object, the sockets it held still receive, send client events and leave presence", async () => {
    const alice = await open("alice");
    const bob = await open("bob");
    const aliceRoom = alice.subscribe("presence-hall") as any;
    await subscribed(aliceRoom);
    const bobAdded = once(aliceRoom, "pusher:member_added");
    const bobRoom = bob.subscribe("presence-hall") as any;
    await subscribed(bobRoom);
    await bobAdded;
    const pinger = await rawClient(port);
    await pinger.socketId();
    const before = await constructed();
    // workerd evicts an object whose only work is hibernatable sockets after ~10 s of quiet.
    // Each round waits quietly, pings, then wakes it with a publish: a new instance means it slept.
    let woken = false;
    let pingWokeIt = false;
    for (let round = 0; round < 6 && !woken; round++) {
      await sleep(11_000);
      const from = pinger.frames.length;
      pinger.send(JSON.stringify({ event: "pusher:ping", data: {} }));
      await pinger.next("pusher:pong", from);
      pingWokeIt = (await constructed()) > before;
      const got = once(aliceRoom, "news");
      await sdk.trigger("presence-hall", "news", { round });
      assert.deepEqual(await got, { round });
      woken = (await constructed()) > before;
    }
    pinger.close();
    assert.ok(woken, "workerd constructed a fresh object while the sockets stayed open");
    assert.equal(pingWokeIt, false, "the runtime answered pusher-js's ping without constructing the object");

    // The fresh instance knows the sockets, their channels and presence from the attachments alone.
    const members = await (await sdk.get({ path: "/channels/presence-hall/users", params: {} })).json();
    assert.deepEqual(members.users.map((u: { id: string }) => u.id).sort(), ["alice", "bob"]);
    const typed = once(aliceRoom, "client-typing");
    assert.equal(bobRoom.trigger("client-typing", { who: "bob" }), true);
    assert.deepEqual(await typed, { who: "bob" });
    const removed = once(aliceRoom, "pusher:member_removed");
    bob.disconnect();
    assert.equal((await removed).id, "bob");
    const carol = await open("carol");
    const carols = await subscribed(carol.subscribe("presence-hall"));
    assert.deepEqual(Object.keys(carols.members).sort(), ["alice", "carol"]);
  });
});
