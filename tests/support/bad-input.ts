// What the bad-input tables share: the HTTP app and the broadcast app, alone and mounted on one
// host, over a store that records every write and every queue name it is asked about, so a
// row can check that nothing was stored and no queue was made.
import { md5 } from "@noble/hashes/legacy.js";
import { Hono } from "hono";
import type { UpgradeWebSocket } from "hono/ws";
import { SignJWT } from "jose";
import * as v from "valibot";
import { createConveyor, defineJob, FakeClock, MemoryStore, type QueueStore } from "../../mod.ts";
import { createApp, createBroadcastApp } from "../../http.ts";
import { Broadcaster } from "../../broadcast.ts";
import { APP, authorize, JWT_SECRET } from "./broadcast-server.ts";

export const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
export const email = defineJob("email", v.object({ to: v.pipe(v.string(), v.email()) }));
export const note = defineJob("note", v.object({ text: v.string() }));

/**
 * A MemoryStore that says what changed: jobs and pause flags through its journal, records
 * (schedules) as they are written. It also notes every queue name it is asked about.
 */
function spyStore() {
  const recordWrites: string[] = [];
  const queuesNamed = new Set<string>();
  const target = new MemoryStore({ journal: true });
  const store = new Proxy(target, {
    get(t, property, receiver) {
      const value = Reflect.get(t, property, receiver);
      if (typeof value !== "function") return value;
      const name = String(property);
      return (...args: unknown[]) => {
        if (typeof args[0] === "string" && !name.endsWith("Record") && !name.endsWith("Records")) queuesNamed.add(args[0]);
        const result = value.apply(t, args); // on the store itself: its #private fields are not the proxy's
        // A delete or compare-and-set that found nothing to change changed nothing.
        if (name === "putRecord") recordWrites.push(`${name} ${String(args[1])}`);
        if (name === "deleteRecord" || name === "compareAndSetRecord") {
          void (result as Promise<boolean>).then((changed) => changed && recordWrites.push(`${name} ${String(args[1])}`), () => {});
        }
        return result;
      };
    },
  }) as QueueStore;
  /** What changed since the last call. */
  const changes = () => [...recordWrites.splice(0), ...target.drainChanges().map((entry) => `jobs of ${entry.queue}`)];
  return { store, changes, queuesNamed };
}

/** A WebSocket upgrade that is never reached by a bad request (non-upgrade requests are refused before it). */
const noUpgrade = (() => () => {
  throw new Error("no upgrade in these tests");
}) as unknown as UpgradeWebSocket;

export interface Request {
  headers?: Record<string, string>;
  /** JSON-encoded, with Content-Type application/json unless headers say otherwise. */
  body?: unknown;
  /** Sent as is. */
  raw?: string;
}

export async function badInputApps() {
  const clock = new FakeClock();
  const spy = spyStore();
  // The audit log on: refusals are recorded (entries are not jobs or records, so `changes` ignores them).
  const conveyor = createConveyor({ store: spy.store, clock, audit: true });
  conveyor.queue("emails").register(email, note);
  // Guessing is throttled by default; these tables send many bad tokens from one client on purpose.
  const jobs = createApp(conveyor, { auth: { secret: SECRET, audience: "conveyor" }, authFailureLimit: false });
  const broadcaster = new Broadcaster({ ...APP, authorize, clock });
  await broadcaster.ready();
  const broadcast = createBroadcastApp(broadcaster, { auth: { secret: JWT_SECRET }, upgradeWebSocket: noUpgrade, authFailureLimit: false });
  // As the README mounts them (the API under /jobs, broadcasting at the root), in both orders:
  // hono runs handlers in the order they were mounted, so each app's fallback sees the other's answers.
  const hosts = {
    jobsFirst: new Hono().route("/jobs", jobs).route("/", broadcast),
    broadcastFirst: new Hono().route("/", broadcast).route("/jobs", jobs),
  };

  const exp = Math.floor(clock.now() / 1000) + 300;
  const jwt = (secret: string, claims: Record<string, unknown>, expiresAt = exp) =>
    new SignJWT({ scope: "admin", ...claims }).setProtectedHeader({ alg: "HS256" }).setSubject("ada").setAudience("conveyor")
      .setExpirationTime(expiresAt).sign(new TextEncoder().encode(secret));
  const tokens = {
    admin: await jwt(SECRET, {}),
    reader: await jwt(SECRET, { scope: "jobs:read" }),
    smsWriter: await jwt(SECRET, { scope: "jobs:write:sms" }),
    scheduleReader: await jwt(SECRET, { scope: "schedules:read" }),
    forged: await jwt("another-secret-that-is-also-long-enough!!", {}),
    expired: await jwt(SECRET, {}, exp - 3_600),
    otherAudience: await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setAudience("elsewhere").setExpirationTime(exp)
      .sign(new TextEncoder().encode(SECRET)),
    channelUser: await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime(exp).sign(new TextEncoder().encode(JWT_SECRET)),
  };

  /** Pusher HTTP API query string for `method path body`, signed as the pusher SDK signs (or with `override` changed after signing). */
  const pusherQuery = async (method: string, path: string, body: string | null, override: Record<string, string> = {}, signAs = APP.secret) => {
    const params: Record<string, string> = { auth_key: APP.key, auth_timestamp: String(Math.floor(clock.now() / 1000)), auth_version: "1.0" };
    if (body) params.body_md5 = [...md5(new TextEncoder().encode(body))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const ordered = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join("&");
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(signAs), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${method}\n${path}\n${ordered}`)));
    const signature = [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
    return new URLSearchParams({ ...params, auth_signature: signature, ...override }).toString();
  };

  const send = async (app: { request: Hono["request"] }, method: string, path: string, request: Request = {}) => {
    const headers = { ...request.headers };
    const hasBody = request.body !== undefined || request.raw !== undefined;
    if (hasBody && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
    const res = await app.request(path, { method, headers, body: request.raw ?? (request.body === undefined ? undefined : JSON.stringify(request.body)) });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch { /* checked by the caller */ }
    return { status: res.status, headers: res.headers, text, json };
  };

  return {
    clock,
    conveyor,
    spy,
    broadcaster,
    jobs,
    broadcast,
    hosts,
    tokens,
    pusherQuery,
    send,
    async close() {
      await broadcaster.close();
      await conveyor.close();
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
