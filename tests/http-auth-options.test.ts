// createApp's auth settings: a missing secret says which one, and why it may be missing.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createConveyor } from "../mod.ts";
import { createApp } from "../http.ts";

test("an undefined auth.secret names itself and the likely cause (an unset environment variable)", () => {
  const conveyor = createConveyor();
  assert.throws(
    () => createApp(conveyor, { auth: { secret: undefined } as never }),
    (error: unknown) =>
      error instanceof TypeError && /auth\.secret is undefined/.test(error.message) && /environment variable/.test(error.message),
  );
  assert.throws(() => createApp(conveyor, { auth: {} as never }), /exactly one of \{ secret, publicKey, jwksUrl \}, or auth: false/);
  assert.throws(() => createApp(conveyor, { auth: { secret: "x".repeat(40), jwksUrl: "https://a.example/jwks" } as never }), /exactly one of/);
  assert.throws(() => createApp(conveyor, { auth: { secret: "short" } }), /at least 32 characters/);
});
