import type { Context, MiddlewareHandler } from "hono";

/** What a client's X-Request-Id may be to be kept: printable, no spaces, short (else the app makes one). */
const ACCEPTED = /^[A-Za-z0-9._:@/+=-]{1,200}$/;
/** Where the id waits in the request's context (not in the app's typed variables: only this module reads it). */
const KEY = "conveyor.requestId";

/**
 * Gives every request an id: the client's X-Request-Id when it is a sensible one, else a new
 * UUID. It goes back on the answer (errors included) and into the request's audit entries, so
 * a client, the logs and the audit log can name the same request. `clean` says whether a
 * client's id may be kept as it is (the redactor finds no secret in it): one that carries a
 * token is replaced, not stored.
 */
export function requestId(clean: (id: string) => boolean = () => true): MiddlewareHandler {
  return async (c, next) => {
    const given = c.req.header("x-request-id");
    const id = given !== undefined && ACCEPTED.test(given) && clean(given) ? given : crypto.randomUUID();
    c.set(KEY, id);
    // A prepared header: it rides on whatever answer is made, onError's included, without
    // touching the answer's headers (which would make @hono/node-server build a full Response).
    c.header("X-Request-Id", id);
    await next();
  };
}

/** The id `requestId()` gave this request; null when it did not run (an unknown path). */
export function requestIdOf(c: Context): string | null {
  return (c.get(KEY) as string | undefined) ?? null;
}
