// The Durable Object's hub without workerd: what a freshly constructed instance knows comes from
// the sockets' attachments alone, as after hibernation; and a socket's channels must fit one.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Broadcaster } from "../src/broadcast/broadcaster.ts";
import { type HibernatableWebSocket, HibernatingHub, MAX_ATTACHMENT_BYTES } from "../src/adapter/cloudflare-broadcast-hub.ts";
import { runtime } from "./support/runtime.ts";

const APP = { appId: "1", key: "hub-key", secret: "a-secret-of-sixteen-or-more" };

/** A socket as the runtime keeps it: frames sent, and an attachment stored as a structured clone. */
class FakeSocket implements HibernatableWebSocket {
  readonly sent: { event: string; channel?: string; data: any; user_id?: string }[] = [];
  #attachment: string | null = null;
  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }
  close(): void {}
  serializeAttachment(value: unknown): void {
    this.#attachment = JSON.stringify(value);
  }
  deserializeAttachment(): unknown {
    return this.#attachment === null ? null : JSON.parse(this.#attachment);
  }
  events(event: string) {
    return this.sent.filter((f) => f.event === event);
  }
}

describe(`the broadcast Durable Object's hub (${runtime})`, () => {
  const signer = new Broadcaster({ ...APP, authorize: (user, channel) => channel.startsWith("presence-") ? { info: { name: user.subject } } : true });
  const join = async (hub: HibernatingHub, ws: FakeSocket, channel: string, user?: string) => {
    const connection = hub.connection(ws)!;
    const answer = await signer.authorizeChannel({ subject: user ?? null, scopes: new Set() }, connection.socketId, channel);
    await connection.receive(JSON.stringify({ event: "pusher:subscribe", data: { channel, ...answer } }));
  };

  test("a fresh instance rebuilds channels and presence from the attachments, and fans out to them", async () => {
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    const first = new HibernatingHub(signer, () => sockets);
    sockets.forEach((ws, i) => first.open(ws, `${i + 1}.1`));
    await join(first, sockets[0]!, "presence-room", "alice");
    await join(first, sockets[1]!, "presence-room", "bob");
    await join(first, sockets[2]!, "news");
    await join(first, sockets[2]!, "private-orders");

    // As after eviction: a new instance over the same sockets, nothing carried over in memory.
    const fresh = new HibernatingHub(signer, () => sockets);
    assert.deepEqual(Object.fromEntries(fresh.channels()), { "presence-room": 2, news: 1, "private-orders": 1 });
    assert.deepEqual(fresh.members("presence-room").map((m) => m.user_id), ["alice", "bob"]);
    fresh.deliver({ channel: "news", event: "headline", data: "{\"n\":1}" });
    assert.deepEqual(sockets[2]!.events("headline").map((f) => f.data), ["{\"n\":1}"]);
    assert.equal(sockets[0]!.events("headline").length, 0);

    // A client event through the fresh instance goes to the other member with its user id.
    await fresh.connection(sockets[1]!)!.receive(JSON.stringify({ event: "client-wave", channel: "presence-room", data: { hi: 1 } }));
    assert.deepEqual(sockets[0]!.events("client-wave").map((f) => f.user_id), ["bob"]);
    assert.equal(sockets[1]!.events("client-wave").length, 0, "no echo");

    // Bob's socket closes: Alice hears he left, and the attachments say so to the next instance.
    await fresh.close(sockets[1]!);
    assert.deepEqual(sockets[0]!.events("pusher_internal:member_removed").map((f) => JSON.parse(f.data)), [{ user_id: "bob" }]);
    const third = new HibernatingHub(signer, () => [sockets[0]!, sockets[2]!]);
    assert.deepEqual(third.members("presence-room").map((m) => m.user_id), ["alice"]);
  });

  test("a socket whose channels would not fit an attachment is refused the next subscription, and keeps the others", async () => {
    const ws = new FakeSocket();
    const hub = new HibernatingHub(signer, () => [ws]);
    hub.open(ws, "9.9");
    let n = 0;
    while (ws.events("pusher:subscription_error").length === 0 && n < 100) await join(hub, ws, `channel-${"x".repeat(100)}-${n++}`);
    const [refused] = ws.events("pusher:subscription_error");
    assert.equal(refused!.data.status, 413);
    assert.ok(JSON.stringify(ws.deserializeAttachment()).length <= MAX_ATTACHMENT_BYTES);
    assert.equal(hub.channels().size, n - 1);
  });
});
