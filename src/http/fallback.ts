import type { Context, MiddlewareHandler } from "hono";
import { body } from "./errors.ts";

/** Requests this module answered as taken by no route, so an app mounted around another can tell that 404 from a route's own. */
const untaken = new WeakSet<Request>();

/** 404 `NOT_FOUND` for a request no route took: the app's own notFound. */
export function notFound(c: Context): Response {
  untaken.add(c.req.raw);
  return c.json(body("NOT_FOUND", `No route ${c.req.method} ${c.req.path}`), 404);
}

/** The method and path of every route of one app, to tell "no such path" (404) from "not with this method" (405). */
export class RouteTable {
  readonly #routes: { method: string; pattern: RegExp }[] = [];

  add(method: string, path: string): void {
    const source = path.split("/").map((part) => part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("/");
    this.#routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}$`) });
  }

  /** Methods the routes answer on `path` (relative to the app), HEAD with GET. */
  allowed(path: string): string[] {
    const methods = new Set(this.#routes.filter((r) => r.pattern.test(path)).map((r) => r.method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods];
  }
}

/**
 * JSON for requests no route takes, mounted or not. Hono's `host.route()` keeps a sub-app's
 * routes and error handler but drops its notFound, so the host would answer text/plain; this
 * middleware (registered first, on every path under the app) looks at the answer once the
 * request has been through everything else: the host's not-found text, or this module's own
 * 404, becomes 405 with `Allow` when one of the app's paths matches with another method, and
 * a JSON 404 otherwise. Any other answer, a route's own 404 included, passes untouched.
 */
export function unmatched(table: RouteTable): MiddlewareHandler {
  return async (c, next) => {
    // Where the app is mounted: this middleware's own pattern ("/jobs/*"), read before next() moves on.
    const base = c.req.routePath.replace(/\/?\*$/, "");
    await next();
    const res = c.res;
    if (res.status !== 404 || !(untaken.has(c.req.raw) || !/^application\/json\b/i.test(res.headers.get("content-type") ?? ""))) return;
    const path = c.req.path.startsWith(base) ? c.req.path.slice(base.length) || "/" : c.req.path;
    const allowed = table.allowed(path);
    // Assigning keeps the headers others set on the answer being replaced (hono copies them over).
    if (allowed.length === 0) {
      c.res = notFound(c);
      return;
    }
    c.res = c.json(body("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(", ")}`), 405, { Allow: allowed.join(", ") });
  };
}
