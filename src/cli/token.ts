// `conveyor token`: a development JWT for the HTTP app, signed with the app's HS256 secret.
import { SignJWT } from "jose";
import * as v from "valibot";
import type { Clock } from "../core/clock.ts";

/** The scopes the HTTP app checks; jobs:read and jobs:write also come per queue (`jobs:write:emails`). */
export const SCOPES = ["admin", "jobs:read", "jobs:write", "schedules:read", "schedules:write", "ops:read", "audit:read"] as const;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

const ScopeSchema = v.pipe(
  v.string(),
  v.check(
    (scope) => (SCOPES as readonly string[]).includes(scope) || /^jobs:(read|write):[^\s\p{Cc}]{1,200}$/u.test(scope),
    `a scope: ${SCOPES.join(", ")}, or jobs:read:<queue> / jobs:write:<queue>`,
  ),
);

export const TokenOptionsSchema = v.strictObject({
  secret: v.pipe(v.string(), v.check((secret) => secret.length >= 32, "a secret of at least 32 characters (HS256)")),
  scopes: v.pipe(v.array(ScopeSchema), v.check((scopes) => scopes.length > 0, "at least one scope (--scopes)")),
  subject: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  expires: v.pipe(v.string(), v.check((text) => /^\d+[smhd]$/.test(text), "a duration such as 30m, 1h or 7d")),
  issuer: v.optional(v.pipe(v.string(), v.minLength(1))),
  audience: v.optional(v.pipe(v.string(), v.minLength(1))),
});

export type TokenOptions = v.InferOutput<typeof TokenOptionsSchema>;

/** Signs the token; `iat` and `exp` come from the clock, so tests can pin them. */
export async function mintToken(options: TokenOptions, clock: Clock): Promise<string> {
  const nowSeconds = Math.floor(clock.now() / 1000);
  const lifetime = Number(options.expires.slice(0, -1)) * UNITS[options.expires.slice(-1)]!;
  let jwt = new SignJWT({ scope: options.scopes.join(" ") })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(options.subject)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + lifetime);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return await jwt.sign(new TextEncoder().encode(options.secret));
}
