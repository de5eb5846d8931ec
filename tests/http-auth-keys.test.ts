// Bearer tokens signed with asymmetric keys: a public key given directly, and keys fetched from a JWKS URL;
// token times (exp, nbf) judged on the injected clock.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { createConveyor, FakeClock } from "../mod.ts";
import { createApp } from "../http.ts";

type PrivateKey = Parameters<SignJWT["sign"]>[0];

async function signed(key: PrivateKey, alg: string, claims: { kid?: string; audience?: string; issuer?: string } = {}) {
  return await new SignJWT({ scope: "jobs:read" })
    .setProtectedHeader({ alg, ...(claims.kid ? { kid: claims.kid } : {}) })
    .setSubject("ada")
    .setIssuer(claims.issuer ?? "https://auth.example.com")
    .setAudience(claims.audience ?? "conveyor")
    .setExpirationTime("5m")
    .sign(key);
}

async function status(app: { request: Hono["request"] }, token: string) {
  const res = await app.request("/queues", { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json() as { error?: { code: string } };
  return [res.status, body.error?.code ?? "ok"];
}

describe("HTTP auth with asymmetric keys", () => {
  test("a public key verifies ES256 tokens; another key, HS256 or a wrong issuer is refused", async () => {
    const ours = await generateKeyPair("ES256");
    const theirs = await generateKeyPair("ES256");
    const conveyor = createConveyor();
    const app = createApp(conveyor, { auth: { publicKey: ours.publicKey, issuer: "https://auth.example.com", audience: "conveyor" } });
    assert.deepEqual(await status(app, await signed(ours.privateKey, "ES256")), [200, "ok"]);
    assert.deepEqual(await status(app, await signed(theirs.privateKey, "ES256")), [401, "UNAUTHENTICATED"]);
    assert.deepEqual(await status(app, await signed(ours.privateKey, "ES256", { issuer: "https://evil.example.com" })), [401, "UNAUTHENTICATED"]);
    const hs = await signed(new TextEncoder().encode("a-shared-secret-that-is-long-enough-for-hs256"), "HS256");
    assert.deepEqual(await status(app, hs), [401, "UNAUTHENTICATED"], "no algorithm confusion");
    await conveyor.close();
  });

  test("expiry is judged on the conveyor's clock: a token ending at T+60 s passes at T+59 s and is refused at T+61 s", async () => {
    // Fake time starts months before the wall clock: judged by the system clock, this token would be long expired.
    const clock = new FakeClock();
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const conveyor = createConveyor({ clock });
    const auth = { publicKey, clockToleranceSec: 0 };
    const app = createApp(conveyor, { auth });
    const exp = clock.now() / 1000 + 60;
    const token = await new SignJWT({ scope: "jobs:read" }).setProtectedHeader({ alg: "ES256" }).setExpirationTime(exp).sign(privateKey);
    assert.deepEqual(await status(app, token), [200, "ok"]);

    await clock.advance(59_000);
    assert.deepEqual(await status(app, token), [200, "ok"], "reused from the verification cache");
    assert.deepEqual(await status(createApp(conveyor, { auth }), token), [200, "ok"], "verified afresh by jose at T+59 s");

    await clock.advance(2_000);
    assert.deepEqual(await status(app, token), [401, "UNAUTHENTICATED"], "the cache ends at exp");
    assert.deepEqual(await status(createApp(conveyor, { auth }), token), [401, "UNAUTHENTICATED"], "jose judges exp at T+61 s");
    await conveyor.close();
  });

  test("auth.clock overrides the conveyor's: a not-yet-valid token (nbf) passes once that clock reaches it", async () => {
    const conveyorClock = new FakeClock();
    const authClock = new FakeClock();
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const conveyor = createConveyor({ clock: conveyorClock });
    const app = createApp(conveyor, { auth: { publicKey, clockToleranceSec: 0, clock: authClock } });
    const nbf = authClock.now() / 1000 + 30;
    const token = await new SignJWT({ scope: "jobs:read" }).setProtectedHeader({ alg: "ES256" })
      .setNotBefore(nbf).setExpirationTime(nbf + 60).sign(privateKey);
    assert.deepEqual(await status(app, token), [401, "UNAUTHENTICATED"], "not valid yet");
    await conveyorClock.advance(31_000);
    assert.deepEqual(await status(app, token), [401, "UNAUTHENTICATED"], "the conveyor's clock does not count");
    await authClock.advance(31_000);
    assert.deepEqual(await status(app, token), [200, "ok"]);
    await conveyor.close();
  });

  describe("from a JWKS URL", () => {
    const keys: JWK[] = [];
    let fetches = 0;
    let url = "";
    let close = () => {};
    before(async () => {
      const jwks = new Hono().get("/.well-known/jwks.json", (c) => {
        fetches++;
        return c.json({ keys });
      });
      const port = await new Promise<number>((resolve) => {
        const server = serve({ fetch: jwks.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, (info) => resolve(info.port));
        close = () => server.close();
      });
      url = `http://127.0.0.1:${port}/.well-known/jwks.json`;
    });
    after(() => close());

    test("keys are fetched by kid, rotated keys are picked up, unknown signers refused", async () => {
      const first = await generateKeyPair("RS256");
      keys.push({ ...await exportJWK(first.publicKey), kid: "k1", alg: "RS256", use: "sig" });
      const conveyor = createConveyor();
      const app = createApp(conveyor, { auth: { jwksUrl: url, audience: "conveyor" } });
      assert.deepEqual(await status(app, await signed(first.privateKey, "RS256", { kid: "k1" })), [200, "ok"]);
      assert.deepEqual(await status(app, await signed(first.privateKey, "RS256", { kid: "k1" })), [200, "ok"]);
      assert.equal(fetches, 1, "the key set is cached");

      const stranger = await generateKeyPair("RS256");
      assert.deepEqual(await status(app, await signed(stranger.privateKey, "RS256", { kid: "k1" })), [401, "UNAUTHENTICATED"], "right kid, wrong key");

      const rotated = await generateKeyPair("ES256");
      keys.push({ ...await exportJWK(rotated.publicKey), kid: "k2", alg: "ES256", use: "sig" });
      // jose refetches for an unknown kid once its cooldown (30 s) has passed; a fresh app has a fresh cache.
      const later = createApp(conveyor, { auth: { jwksUrl: url, audience: "conveyor" } });
      assert.deepEqual(await status(later, await signed(rotated.privateKey, "ES256", { kid: "k2" })), [200, "ok"]);
      assert.deepEqual(await status(later, await signed(first.privateKey, "RS256", { kid: "k3" })), [401, "UNAUTHENTICATED"], "unknown kid");
      await conveyor.close();
    });
  });
});
