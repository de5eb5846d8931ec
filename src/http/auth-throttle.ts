import type { Context } from "hono";
import type { Clock } from "../core/clock.ts";
import { RateLimiter } from "../core/rate-limiter.ts";
import { ANONYMOUS, type Authenticator, type Caller } from "./auth.ts";
import { clientKey, type TrustProxy } from "./client-key.ts";
import { HttpError } from "./errors.ts";

/** Failed authentications a client may make by default before it must wait. */
export const AUTH_FAILURE_RULE = Object.freeze({ algorithm: "sliding-window", limit: 10, windowMs: 60_000 } as const);

/** Clients remembered as refused, at most (the oldest are forgotten first); bounds memory under attack from many addresses. */
const MAX_BLOCKED = 10_000;

/**
 * Throttles guessing: each failed authentication takes one unit from the client's allowance,
 * and a client whose allowance is spent gets 429 with Retry-After, without its credentials
 * being checked, until the limiter would let it try again. Successes cost nothing, so busy
 * honest clients are never slowed. The refusal is remembered here (the limiter only counts),
 * so a shared limiter's other nodes learn it at that client's next failure there.
 */
export class AuthThrottle {
  readonly #limiter: RateLimiter | null;
  readonly #clock: Clock;
  /** client key → when it may try again. Insertion order is age. */
  readonly #blocked = new Map<string, number>();

  constructor(limiter: RateLimiter | false | undefined, clock: Clock) {
    this.#clock = clock;
    this.#limiter = limiter === false ? null : limiter ?? new RateLimiter({ rule: AUTH_FAILURE_RULE, clock });
  }

  /** Runs `check` (which throws when the credentials are refused) for the client `key`. */
  async guard<T>(key: string, check: () => Promise<T> | T): Promise<T> {
    if (!this.#limiter) return await check();
    const until = this.#blocked.get(key);
    if (until !== undefined) {
      if (until > this.#clock.now()) throw this.#refusal(until - this.#clock.now());
      this.#blocked.delete(key);
    }
    try {
      return await check();
    } catch (error) {
      if (!(error instanceof HttpError) || error.status !== 401) throw error;
      const decision = await this.#limiter.consume(key);
      if (decision.allowed) throw error;
      this.#block(key, this.#clock.now() + decision.retryAfterMs);
      throw this.#refusal(decision.retryAfterMs);
    }
  }

  #block(key: string, until: number): void {
    this.#blocked.delete(key);
    if (this.#blocked.size >= MAX_BLOCKED) {
      const now = this.#clock.now();
      for (const [k, t] of this.#blocked) if (t <= now) this.#blocked.delete(k);
      if (this.#blocked.size >= MAX_BLOCKED) this.#blocked.delete(this.#blocked.keys().next().value!);
    }
    this.#blocked.set(key, until);
  }

  #refusal(waitMs: number): HttpError {
    const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1_000)));
    return new HttpError(429, "RATE_LIMITED", `Too many failed authentications from this client: try again in ${retryAfter} s`, {
      headers: { "Retry-After": retryAfter },
    });
  }
}

/**
 * The caller of a request: anonymous with auth off, else its bearer token's. A token verified
 * lately skips the throttle (it is no guess), and so does a request without any token.
 */
export async function authenticate(c: Context, authenticator: Authenticator | null, throttle: AuthThrottle, trustProxy: TrustProxy): Promise<Caller> {
  if (!authenticator) return ANONYMOUS;
  const header = c.req.header("authorization");
  const known = authenticator.remembered(header);
  if (known) return known;
  if (header === undefined) return await authenticator.verify(header);
  return await throttle.guard(clientKey(c, trustProxy), () => authenticator.verify(header));
}
