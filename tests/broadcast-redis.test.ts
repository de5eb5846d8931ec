// Two broadcasting nodes sharing one redis-server: messages, client events and presence cross
// nodes, and a node killed with SIGKILL has its members removed by the other.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import PusherServer from "pusher";
import Pusher from "pusher-js";
import { APP, once, pusherOptions, subscribed, userToken } from "./support/broadcast-server.ts";
import { type Child, startScript } from "./support/processes.ts";
import { freePort, type RedisServer, startRedis } from "./support/redis-server.ts";
import { runtime } from "./support/runtime.ts";



describe(`Broadcasting across two nodes on Redis (${runtime})`, () => {
  let redis: RedisServer;
  const nodes: { child: Child; port: number }[] = [];
  const clients: Pusher[] = [];
  const open = (port: number, token: string | null) => {
    const c = new Pusher(APP.key, pusherOptions(port, token));
    clients.push(c);
    return c;
  };

  before(async () => {
    redis = await startRedis();
    const prefix = `bc-${crypto.randomUUID()}`;
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const child = startScript("tests/fixtures/broadcast-node.ts", { REDIS_URL: redis.url, PREFIX: prefix, PORT: String(port) });
      nodes.push({ child, port });
    }
    await Promise.all(nodes.map((n) => n.child.waitFor("listening")));
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(nodes.map((n) => n.child.kill("SIGTERM")));
    await redis?.stop();
  });

  test("an event published on node A reaches subscribers on node B", async () => {
    const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
    const onA = open(a.port, null).subscribe("news");
    const onB = open(b.port, null).subscribe("news");
    await Promise.all([subscribed(onA), subscribed(onB)]);
    const got = [once(onA, "flash"), once(onB, "flash")];
    const sdk = new PusherServer({ appId: APP.appId, key: APP.key, secret: APP.secret, host: "127.0.0.1", port: String(a.port), useTLS: false });
    await sdk.trigger("news", "flash", { via: "A" });
    assert.deepEqual(await Promise.all(got), [{ via: "A" }, { via: "A" }]);
  });

  test("client events cross nodes", async () => {
    const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
    const sender = open(a.port, await userToken("alice")).subscribe("private-chat");
    const receiver = open(b.port, await userToken("bob")).subscribe("private-chat");
    await Promise.all([subscribed(sender), subscribed(receiver)]);
    const got = once(receiver, "client-hello");
    sender.trigger("client-hello", { from: "alice" });
    assert.deepEqual(await got, { from: "alice" });
  });

  test("presence is shared by both nodes, and members of a SIGKILLed node are removed", async () => {
    const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
    const alice = open(a.port, await userToken("alice")).subscribe("presence-team") as any;
    await subscribed(alice);
    const added = once(alice, "pusher:member_added");
    const bob = open(b.port, await userToken("bob")).subscribe("presence-team") as any;
    const bobs = await subscribed(bob);
    assert.deepEqual(Object.keys(bobs.members).sort(), ["alice", "bob"], "node B sees node A's member");
    assert.equal((await added).id, "bob");

    const removed = once(alice, "pusher:member_removed", 15_000);
    await b.child.kill("SIGKILL");
    assert.equal((await removed).id, "bob");
    assert.deepEqual(Object.keys(alice.members.members), ["alice"]);
  });
});
