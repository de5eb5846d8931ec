import type { Context, MiddlewareHandler } from "hono";
import type { RateLimiter } from "../core/rate-limiter.ts";
import type { Caller } from "./auth.ts";
import { clientKey, type TrustProxy } from "./client-key.ts";
import { HttpError } from "./errors.ts";
import type { AppEnv } from "./route.ts";

export interface HttpRateLimit {
  readonly limiter: RateLimiter;
  /**
   * Whom to count a request against. @default the token's subject, else the client's address
   * (X-Forwarded-For only with `trustProxy`), else one key every unknown client shares
   */
  readonly key?: (c: Context<AppEnv>, caller: Caller) => string;
}

/** Requests allowed and refused since start, for health and metrics. */
export interface RateLimitUsage {
  allowed: number;
  limited: number;
}

export function defaultKey(c: Context<AppEnv>, caller: Caller, trustProxy: TrustProxy): string {
  return caller.subject ? `user:${caller.subject}` : clientKey(c, trustProxy);
}

/** Whom a request counts against, as the middleware decides it (health reports the caller's own use). */
export function requestKey(options: HttpRateLimit, trustProxy: TrustProxy): (c: Context<AppEnv>, caller: Caller) => string {
  return (c, caller) => options.key ? options.key(c, caller) : defaultKey(c, caller, trustProxy);
}

/**
 * Answers 429 with `Retry-After` once a caller is over the limit; every answer carries the
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers (seconds).
 */
export function rateLimitMiddleware(options: HttpRateLimit, usage: RateLimitUsage, trustProxy: TrustProxy): MiddlewareHandler<AppEnv> {
  const keyOf = requestKey(options, trustProxy);
  return async (c, next) => {
    const caller = c.get("caller");
    const decision = await options.limiter.consume(keyOf(c, caller));
    const headers = {
      "RateLimit-Limit": String(decision.limit),
      "RateLimit-Remaining": String(decision.remaining),
      "RateLimit-Reset": String(Math.ceil(decision.resetMs / 1_000)),
    };
    if (!decision.allowed) {
      usage.limited++;
      const retryAfter = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1_000)));
      throw new HttpError(429, "RATE_LIMITED", `Too many requests: try again in ${retryAfter} s`, { headers: { ...headers, "Retry-After": retryAfter } });
    }
    usage.allowed++;
    // Set before the handler answers, so they ride on whatever Response it builds.
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
  };
}
