import { type CryptoKey as JoseCryptoKey, createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import { type Clock, systemClock } from "../core/clock.ts";
import { HttpError } from "./errors.ts";
import { claimsOf, expandRoles, type Permissions } from "./permission-config.ts";
import { checkPermission, type PermissionResource } from "./permissions.ts";

export interface AuthOptions {
  /** HS256 shared secret. */
  secret?: string;
  /** A public key (`CryptoKey`, e.g. from jose's importSPKI/importJWK) for RS256/ES256/EdDSA tokens. */
  publicKey?: JoseCryptoKey;
  /** A JWKS endpoint; keys are fetched, cached and rotated by jose. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Seconds of clock difference tolerated on exp/nbf/iat. @default 5 */
  clockToleranceSec?: number;
  /** Claim holding the scopes: a space-separated string or an array. @default "scope" */
  scopeClaim?: string;
  /**
   * Judges exp/nbf/iat and how long a verified token is reused. (jose's JWKS cache and refetch
   * cooldown keep to the system clock.) @default systemClock; createApp() passes the conveyor's
   * clock and createBroadcastApp() the broadcaster's when this is left out
   */
  clock?: Clock;
}

/** Who made a request, as the token says: with `permissions` configured, its roles' scopes are in `scopes`. */
export interface Caller {
  readonly subject: string | null;
  readonly scopes: ReadonlySet<string>;
  /** The token's roles (only read with `permissions` configured). */
  readonly roles?: ReadonlySet<string>;
  /** The token's tenant claim (only read with `permissions` configured). */
  readonly tenant?: string | null;
}

export const ANONYMOUS: Caller = Object.freeze({ subject: null, scopes: new Set(["admin"]) });

/** Tokens verified lately, so a client's every request does not pay for a signature check. */
const VERIFIED_CACHE_SIZE = 1_000;
/** A cached verification is reused this long at most (a key removed from a JWKS stops working within it). */
const VERIFIED_CACHE_MS = 60_000;

const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;

/** Verifies bearer tokens with jose; one per app. */
export class Authenticator {
  readonly #key: Promise<JoseCryptoKey> | JoseCryptoKey | ReturnType<typeof createRemoteJWKSet>;
  readonly #options: AuthOptions;
  readonly #algorithms: string[] | undefined;
  readonly #clock: Clock;
  readonly #permissions: Permissions | null;
  /** token → who it names and until when that may be reused (the token's exp, capped). Insertion order is age. */
  readonly #verified = new Map<string, { caller: Caller; until: number }>();

  constructor(options: AuthOptions, permissions: Permissions | null = null) {
    this.#permissions = permissions;
    const given = [options.secret, options.publicKey, options.jwksUrl].filter((x) => x !== undefined).length;
    if (given !== 1) {
      // The usual cause: `secret: process.env.SOMETHING` with the variable unset.
      const named = (["secret", "publicKey", "jwksUrl"] as const).filter((key) => key in options && options[key] === undefined);
      const unset = named.length > 0 ? ` (${named.map((key) => `auth.${key}`).join(", ")} is undefined: is the environment variable it reads set?)` : "";
      throw new TypeError(`auth needs exactly one of { secret, publicKey, jwksUrl }, or auth: false to run without it${unset}`);
    }
    if (options.secret !== undefined && options.secret.length < 32) throw new RangeError("auth.secret must be at least 32 characters for HS256");
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    // An imported key, once: jose would import raw secret bytes again on every verification.
    this.#key = options.secret !== undefined
      ? crypto.subtle.importKey("raw", new TextEncoder().encode(options.secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"])
      : options.publicKey ?? createRemoteJWKSet(new URL(options.jwksUrl!));
    this.#algorithms = options.secret !== undefined ? ["HS256"] : undefined;
  }

  /** Who a token verified lately names, without checking it again; null when it must be verified. */
  remembered(header: string | undefined): Caller | null {
    const token = BEARER.exec(header ?? "")?.[1];
    const cached = token === undefined ? undefined : this.#verified.get(token);
    if (!cached) return null;
    if (cached.until > this.#clock.now()) return cached.caller;
    this.#verified.delete(token!);
    return null;
  }

  async verify(header: string | undefined): Promise<Caller> {
    const token = BEARER.exec(header ?? "")?.[1];
    if (token === undefined) throw new HttpError(401, "UNAUTHENTICATED", "A bearer token is required (Authorization: Bearer <JWT>)", { headers: { "WWW-Authenticate": "Bearer" } });
    const remembered = this.remembered(header);
    if (remembered) return remembered;
    const now = this.#clock.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (await this.#key) as JoseCryptoKey, {
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        clockTolerance: this.#options.clockToleranceSec ?? 5,
        algorithms: this.#algorithms,
        currentDate: new Date(now),
      }));
    } catch (error) {
      const code = (error as { code?: string }).code ?? "";
      const reason = code === "ERR_JWT_EXPIRED" ? "the token has expired"
        : code === "ERR_JWT_CLAIM_VALIDATION_FAILED" ? `the token's "${(error as { claim?: string }).claim}" claim is not accepted`
        : code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "the token's signature does not verify"
        : "the token could not be verified";
      throw new HttpError(401, "UNAUTHENTICATED", `Unauthenticated: ${reason}`, { headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' } });
    }
    const raw = payload[this.#options.scopeClaim ?? "scope"];
    const scopes = new Set(typeof raw === "string" ? raw.split(" ").filter(Boolean) : Array.isArray(raw) ? raw.map(String) : []);
    const permissions = this.#permissions;
    const caller: Caller = permissions
      ? expandRoles(permissions, { subject: payload.sub ?? null, scopes, ...claimsOf(permissions, payload) })
      : { subject: payload.sub ?? null, scopes };
    this.#remember(token, caller, payload, now);
    return caller;
  }

  #remember(token: string, caller: Caller, payload: JWTPayload, now: number): void {
    // Only tokens that are already valid and say when they end; nbf-in-the-future ones are checked each time.
    if (typeof payload.exp !== "number" || (typeof payload.nbf === "number" && payload.nbf * 1000 > now)) return;
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, { caller, until: Math.min(payload.exp * 1000, now + VERIFIED_CACHE_MS) });
  }
}

/**
 * Whether a caller may do `action` ("jobs:read", "jobs:create", "schedules:write" …), on `queue`
 * when given (see permissions.ts): on some records at least, unless `resource.allRecords`.
 */
export function permits(caller: Caller, action: string, queue?: string): boolean {
  return checkPermission(caller, action, { queue }).allowed;
}

/** A 403 naming the missing permission, unless the caller has it. */
export function requireScope(caller: Caller, action: string, queue?: string, resource: PermissionResource = {}): void {
  const decision = checkPermission(caller, action, { ...resource, queue });
  if (decision.allowed) return;
  const needed = decision.missing.map((scope) => `"${scope}"`).join(" or ");
  const records = resource.allRecords ? " on every job of the queue" : "";
  throw new HttpError(403, "FORBIDDEN", `Forbidden: this needs the scope ${needed}${records}`, {
    permission: { action, queue: queue ?? null, missing: decision.missing },
  });
}
