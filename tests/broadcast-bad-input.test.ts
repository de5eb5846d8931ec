// Bad requests to the broadcast app, one table, run against the app alone and mounted at / on a
// host beside the HTTP app: each gets its typed 4xx JSON error and nothing is published (a
// socket subscribed to every channel the rows aim at hears nothing).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { badInputApps, bearer, type Request } from "./support/bad-input.ts";
import { APP } from "./support/broadcast-server.ts";

type Apps = Awaited<ReturnType<typeof badInputApps>>;
/** How a row signs its Pusher HTTP API request: as the SDK would, with a field changed after signing, or with another secret. */
type Signing = "none" | "valid" | { override?: Record<string, string>; secret?: string; sign?: string };
/** A request, with the bearer token of channel auth. */
type Ask = Request & { token?: "channelUser" | "forged" };
/** [what, method, path, signing, request, status, code] */
type Row = [string, string, string, Signing, Ask, number, string];

const EVENTS = `/apps/${APP.appId}/events`;
const event = (data: string, channel = "news") => ({ name: "shipped", data, channel });
const form = (fields: Record<string, string>) => ({ headers: { "content-type": "application/x-www-form-urlencoded" }, raw: new URLSearchParams(fields).toString() });

const ROWS: Row[] = [
  // The WebSocket endpoint, asked over plain HTTP
  ["no upgrade header", "GET", `/app/${APP.key}?protocol=7`, "none", {}, 426, "UPGRADE_REQUIRED"],
  ["POST the socket", "POST", `/app/${APP.key}`, "none", { body: {} }, 405, "METHOD_NOT_ALLOWED"],
  // Channel auth
  ["channel auth without a token", "POST", "/broadcasting/auth", "none", form({ socket_id: "1.2", channel_name: "private-orders" }), 401, "UNAUTHENTICATED"],
  ["channel auth with a forged token", "POST", "/broadcasting/auth", "none", { ...form({ socket_id: "1.2", channel_name: "private-orders" }), token: "forged" }, 401, "UNAUTHENTICATED"],
  ["channel auth without socket_id", "POST", "/broadcasting/auth", "none", { ...form({ channel_name: "private-orders" }), token: "channelUser" }, 400, "VALIDATION_FAILED"],
  ["a malformed socket_id", "POST", "/broadcasting/auth", "none", { ...form({ socket_id: "1.2; DROP", channel_name: "private-orders" }), token: "channelUser" }, 400, "VALIDATION_FAILED"],
  ["a bad channel name", "POST", "/broadcasting/auth", "none", { ...form({ socket_id: "1.2", channel_name: "private-a b" }), token: "channelUser" }, 400, "VALIDATION_FAILED"],
  ["a public channel", "POST", "/broadcasting/auth", "none", { ...form({ socket_id: "1.2", channel_name: "news" }), token: "channelUser" }, 400, "VALIDATION_FAILED"],
  ["channel auth as invalid JSON", "POST", "/broadcasting/auth", "none", { raw: "{oops", token: "channelUser" }, 400, "VALIDATION_FAILED"],
  ["channel auth as text", "POST", "/broadcasting/auth", "none", { headers: { "content-type": "text/plain" }, raw: "socket_id=1.2", token: "channelUser" }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ["a refused channel", "POST", "/broadcasting/auth", "none", { ...form({ socket_id: "1.2", channel_name: "private-secret" }), token: "channelUser" }, 403, "FORBIDDEN"],
  ["channel auth over 100 KiB", "POST", "/broadcasting/auth", "none", { ...form({ socket_id: "1.2", channel_name: "x".repeat(110_000) }), token: "channelUser" }, 413, "PAYLOAD_TOO_LARGE"],
  ["GET channel auth", "GET", "/broadcasting/auth", "none", {}, 405, "METHOD_NOT_ALLOWED"],
  // The Pusher HTTP API
  ["unsigned", "POST", EVENTS, "none", { body: event("{}") }, 401, "UNAUTHENTICATED"],
  ["an unknown auth_key", "POST", EVENTS, { override: { auth_key: "other" } }, { body: event("{}") }, 401, "UNAUTHENTICATED"],
  ["an old timestamp", "POST", EVENTS, { override: { auth_timestamp: "1000" } }, { body: event("{}") }, 401, "UNAUTHENTICATED"],
  ["a body_md5 of another body", "POST", EVENTS, { override: { body_md5: "0".repeat(32) } }, { body: event("{}") }, 401, "UNAUTHENTICATED"],
  ["signed with another secret", "POST", EVENTS, { secret: "not-the-app-secret-0123456789" }, { body: event("{}") }, 401, "UNAUTHENTICATED"],
  ["signed for another path", "POST", EVENTS, { sign: "/apps/4242/batch_events" }, { body: event("{}") }, 401, "UNAUTHENTICATED"],
  ["an unknown app", "POST", "/apps/9999/events", "valid", { body: event("{}") }, 404, "APP_NOT_FOUND"],
  ["signed invalid JSON", "POST", EVENTS, "valid", { raw: "{oops" }, 400, "INVALID_JSON"],
  ["no channel", "POST", EVENTS, "valid", { body: { name: "shipped", data: "{}" } }, 400, "VALIDATION_FAILED"],
  ["data not a string", "POST", EVENTS, "valid", { body: { name: "shipped", data: { id: 1 }, channel: "news" } }, 400, "VALIDATION_FAILED"],
  ["101 channels", "POST", EVENTS, "valid", { body: { name: "shipped", data: "{}", channels: Array.from({ length: 101 }, (_, i) => `c${i}`) } }, 400, "VALIDATION_FAILED"],
  ["a bad channel to publish to", "POST", EVENTS, "valid", { body: event("{}", "has space") }, 400, "VALIDATION_FAILED"],
  // 6,000 characters, 12,000 bytes: over the 10 KiB event limit only when bytes are counted.
  ["event data over 10 KiB in bytes", "POST", EVENTS, "valid", { body: event("é".repeat(6_000)) }, 413, "PAYLOAD_TOO_LARGE"],
  ["a body over 100 KiB", "POST", EVENTS, "valid", { body: event("x".repeat(110_000)) }, 413, "PAYLOAD_TOO_LARGE"],
  ["11 events in a batch", "POST", `/apps/${APP.appId}/batch_events`, "valid", { body: { batch: Array(11).fill(event("{}")) } }, 400, "VALIDATION_FAILED"],
  ["a batch with one event too large", "POST", `/apps/${APP.appId}/batch_events`, "valid", { body: { batch: [event("{}"), event("€".repeat(4_000))] } }, 413, "PAYLOAD_TOO_LARGE"],
  ["an unsigned channel list", "GET", `/apps/${APP.appId}/channels`, "none", {}, 401, "UNAUTHENTICATED"],
  // Signed as the server reads the path: decoded.
  ["a bad channel to read", "GET", `/apps/${APP.appId}/channels/a%20b`, { sign: `/apps/${APP.appId}/channels/a b` }, {}, 400, "VALIDATION_FAILED"],
  ["users of a public channel", "GET", `/apps/${APP.appId}/channels/news/users`, "valid", {}, 400, "VALIDATION_FAILED"],
  ["PUT an event", "PUT", EVENTS, "none", { body: event("{}") }, 405, "METHOD_NOT_ALLOWED"],
  ["DELETE a channel", "DELETE", `/apps/${APP.appId}/channels/news`, "none", {}, 405, "METHOD_NOT_ALLOWED"],
  ["an unknown path", "GET", "/apps", "none", {}, 404, "NOT_FOUND"],
  ["a path under no app", "POST", "/pusher/events", "none", { body: {} }, 404, "NOT_FOUND"],
];

describe("Broadcast app: a table of bad requests", () => {
  let apps: Apps;
  const heard: string[] = [];
  before(async () => {
    apps = await badInputApps();
    // A listener on every channel the rows publish to: anything published reaches it.
    const connection = apps.broadcaster.accept({ send: (text) => void heard.push(text), close: () => {} }, { key: APP.key, protocol: "7" })!;
    for (const channel of ["news", "c0", "c100"]) await connection.receive(JSON.stringify({ event: "pusher:subscribe", data: { channel } }));
    heard.length = 0;
  });
  after(async () => await apps.close());

  const variants = [
    ["alone", (a: Apps) => a.broadcast],
    ["at / after the HTTP app at /jobs", (a: Apps) => a.hosts.jobsFirst],
    ["at / before the HTTP app at /jobs", (a: Apps) => a.hosts.broadcastFirst],
  ] as const;
  for (const [where, pick] of variants) {
    test(`${ROWS.length} bad requests, ${where}: typed 4xx JSON, nothing published`, async () => {
      const app = pick(apps);
      for (const [what, method, path, signing, request, status, code] of ROWS) {
        const { token, ...rest } = request;
        const headers = { ...(token ? bearer(apps.tokens[token]) : {}), ...rest.headers };
        let url = path;
        if (signing !== "none") {
          const body = rest.raw ?? (rest.body === undefined ? null : JSON.stringify(rest.body));
          const { override, secret, sign } = signing === "valid" ? {} : signing;
          url += `?${await apps.pusherQuery(method, sign ?? path, body, override, secret)}`;
        }
        const res = await apps.send(app, method, url, { ...rest, headers });
        assert.equal(res.status, status, `${what}: ${method} ${path} answered ${res.status} ${res.text.slice(0, 300)}`);
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/, `${what}: JSON`);
        assert.equal(res.json?.error?.code, code, `${what}: code`);
        assert.equal(typeof res.json.error.message, "string", `${what}: message`);
        if (status === 405) assert.ok(res.headers.get("allow"), `${what}: Allow says what would do`);
        assert.deepEqual(heard, [], `${what}: nothing published`);
        assert.deepEqual(apps.spy.changes(), [], `${what}: nothing stored`);
      }
      // The same signing publishes when nothing is wrong, so the refusals above were for the faults they name.
      const body = JSON.stringify(event("{}"));
      const ok = await apps.send(app, "POST", `${EVENTS}?${await apps.pusherQuery("POST", EVENTS, body)}`, { raw: body });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(heard.length, 1);
      heard.length = 0;
    });
  }
});
