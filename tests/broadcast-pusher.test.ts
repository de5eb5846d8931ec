// Unmodified pusher-js, laravel-echo and the `pusher` server SDK against a real Conveyor server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Echo from "laravel-echo";
import PusherServer from "pusher";
import Pusher from "pusher-js";
import * as v from "valibot";
import { createConveyor, defineJob } from "../mod.ts";
import { broadcastJobEvents, jobChannel, queueChannel } from "../broadcast.ts";
import { APP, once, pusherOptions, startBroadcastServer, subscribed, userToken } from "./support/broadcast-server.ts";
import { runtime } from "./support/runtime.ts";

type Server = Awaited<ReturnType<typeof startBroadcastServer>>;

function client(server: Server, token: string | null): Pusher {
  return new Pusher(APP.key, pusherOptions(server.port, token));
}

describe(`Broadcasting with pusher-js, laravel-echo and the pusher SDK (${runtime})`, () => {
  let server: Server;
  const clients: Pusher[] = [];
  const open = (token: string | null) => {
    const c = client(server, token);
    clients.push(c);
    return c;
  };
  before(async () => server = await startBroadcastServer());
  after(async () => {
    for (const c of clients) c.disconnect();
    await server.close();
  });

  test("public channel: subscribe and receive what the server publishes", async () => {
    const pusher = open(null);
    const news = pusher.subscribe("news");
    await subscribed(news);
    const received = once(news, "headline");
    await server.broadcaster.publish("news", "headline", { title: "Conveyor speaks Pusher" });
    assert.deepEqual(await received, { title: "Conveyor speaks Pusher" });
  });

  test("private channel: authorised through the auth endpoint with a JWT; refused without one or by the authoriser", async () => {
    const pusher = open(await userToken("alice"));
    const orders = pusher.subscribe("private-orders");
    await subscribed(orders);
    const received = once(orders, "shipped");
    await server.broadcaster.publish("private-orders", "shipped", { id: 7 });
    assert.deepEqual(await received, { id: 7 });

    const refused = pusher.subscribe("private-secret");
    assert.equal((await once(refused, "pusher:subscription_error")).status, 403);
    const anonymous = open(null).subscribe("private-orders");
    assert.equal((await once(anonymous, "pusher:subscription_error")).status, 401);
  });

  test("presence channel: member lists, member_added and member_removed", async () => {
    const alice = open(await userToken("alice"));
    const room = alice.subscribe("presence-room") as any;
    const mine = await subscribed(room);
    assert.equal(mine.count, 1);
    assert.deepEqual(mine.me, { id: "alice", info: { name: "alice" } });

    const added = once(room, "pusher:member_added");
    const bob = open(await userToken("bob"));
    const bobsRoom = bob.subscribe("presence-room") as any;
    const bobs = await subscribed(bobsRoom);
    assert.deepEqual(Object.keys(bobs.members).sort(), ["alice", "bob"]);
    assert.deepEqual(await added, { id: "bob", info: { name: "bob" } });

    const removed = once(room, "pusher:member_removed");
    bob.disconnect();
    assert.equal((await removed).id, "bob");
    assert.equal(room.members.count, 1);
  });

  test("client events reach the other subscribers of a private channel, not the sender", async () => {
    const alice = open(await userToken("alice"));
    const bob = open(await userToken("bob"));
    const a = alice.subscribe("private-chat");
    const b = bob.subscribe("private-chat");
    await Promise.all([subscribed(a), subscribed(b)]);
    const seenByAlice: unknown[] = [];
    a.bind("client-typing", (data: unknown) => seenByAlice.push(data));
    const received = once(b, "client-typing");
    assert.equal(a.trigger("client-typing", { who: "alice" }), true);
    assert.deepEqual(await received, { who: "alice" });
    // Bob answers. Frames reach Alice in order, so an echo of her own event would come before his.
    const answered = once(a, "client-typing");
    assert.equal(b.trigger("client-typing", { who: "bob" }), true);
    await answered;
    assert.deepEqual(seenByAlice, [{ who: "bob" }], "no echo to the sender");
  });

  test("job lifecycle and progress go out on the queue's and the job's private channels", async () => {
    const conveyor = createConveyor();
    const report = defineJob("report", v.object({ pages: v.number() }));
    const queue = conveyor.queue("reports");
    const stop = broadcastJobEvents(server.broadcaster, queue);
    const pusher = open(await userToken("alice"));
    const job = pusher.subscribe(jobChannel("reports", "monthly:2026-11"));
    const all = pusher.subscribe(queueChannel("reports"));
    await Promise.all([subscribed(job), subscribed(all)]);
    assert.equal(jobChannel("reports", "monthly:2026-11"), "private-conveyor.job.reports.monthly_2026-11");
    const progress = once(job, "job.progress");
    const completed = once(job, "job.completed");
    const enqueued = once(all, "job.enqueued");
    conveyor.worker(queue).handle(report, async ({ pages }, ctx) => {
      await ctx.progress({ done: pages / 2 });
      return { pages };
    });
    await queue.add(report, { pages: 10 }, { jobId: "monthly:2026-11" });
    assert.equal((await enqueued).jobId, "monthly:2026-11");
    assert.deepEqual((await progress).progress, { done: 5 });
    assert.deepEqual((await completed).result, { pages: 10 });
    stop();
    await conveyor.close();
  });

  test("laravel-echo joins private and presence channels through the same endpoint", async () => {
    // Echo's own authEndpoint/auth options, as Laravel apps configure it.
    const { channelAuthorization: _, ...connection } = pusherOptions(server.port, null);
    const echo = new Echo({
      broadcaster: "pusher",
      key: APP.key,
      ...connection,
      authEndpoint: `${server.url}/broadcasting/auth`,
      auth: { headers: { Authorization: `Bearer ${await userToken("carol")}` } },
      Pusher,
    } as any);
    try {
      const got = new Promise((resolve) => echo.private("orders.9").listen(".shipped", resolve));
      const here = new Promise<any[]>((resolve) => echo.join("lobby").here(resolve));
      assert.deepEqual((await here).map((m) => m.name), ["carol"]);
      // Echo's private("orders.9") is the channel private-orders.9.
      for (let i = 0; i < 100 && !server.broadcaster.localChannels().has("private-orders.9"); i++) await new Promise((r) => setTimeout(r, 10));
      await server.broadcaster.publish("private-orders.9", "shipped", { id: 9 });
      assert.deepEqual(await got, { id: 9 });
    } finally {
      echo.disconnect();
    }
  });

  test("the pusher server SDK triggers events and reads channels through the signed HTTP API", async () => {
    const sdk = new PusherServer({ appId: APP.appId, key: APP.key, secret: APP.secret, host: "127.0.0.1", port: String(server.port), useTLS: false });
    const pusher = open(null);
    const feed = pusher.subscribe("feed");
    await subscribed(feed);
    const one = once(feed, "posted");
    const res = await sdk.trigger("feed", "posted", { n: 1 });
    assert.equal(res.status, 200);
    assert.deepEqual(await one, { n: 1 });

    const batch = [once(feed, "a"), once(feed, "b")];
    await sdk.triggerBatch([{ channel: "feed", name: "a", data: { n: 2 } }, { channel: "feed", name: "b", data: { n: 3 } }]);
    assert.deepEqual(await Promise.all(batch), [{ n: 2 }, { n: 3 }]);

    const channels = await (await sdk.get({ path: "/channels", params: {} })).json();
    assert.ok("feed" in channels.channels);
    const info = await (await sdk.get({ path: "/channels/feed", params: { info: "subscription_count" } })).json();
    assert.deepEqual(info, { occupied: true, subscription_count: 1 });

    const forged = new PusherServer({ appId: APP.appId, key: APP.key, secret: "not-the-secret-at-all!!", host: "127.0.0.1", port: String(server.port), useTLS: false });
    await assert.rejects(forged.trigger("feed", "posted", { n: 4 }), (error: { status?: number }) => error.status === 401);
  });
});
