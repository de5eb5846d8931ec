import { Hono, type MiddlewareHandler } from "hono";
import * as v from "valibot";
import type { Conveyor } from "../conveyor.ts";
import { RateLimiter } from "../core/rate-limiter.ts";
import { parseArgument } from "../core/validation.ts";
import { mountDashboard } from "../dashboard/mount.ts";
import { type DashboardOptions, DashboardOptionsSchema } from "../dashboard/options.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { Authenticator, type AuthOptions } from "./auth.ts";
import { authenticate, AuthThrottle } from "./auth-throttle.ts";
import { auditedRoutes, HttpAuditTrail } from "./audit-trail.ts";
import { type TrustProxy, TrustProxySchema } from "./client-key.ts";
import { errorResponse } from "./errors.ts";
import { notFound, RouteTable, unmatched } from "./fallback.ts";
import { parsePermissions, type PermissionOptions } from "./permission-config.ts";
import { type HttpRateLimit, rateLimitMiddleware, type RateLimitUsage, requestKey } from "./rate-limit.ts";
import { requestId } from "./request-id.ts";
import { type AppEnv, openApi, register } from "./route.ts";
import { auditRoutes } from "./routes/audit.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { opsRoutes } from "./routes/ops.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { workflowRoutes } from "./routes/workflows.ts";
import { sizeLimit } from "./size-limit.ts";
import { ExecutionStats } from "./stats.ts";

export interface AppOptions {
  /** Bearer JWT verification, or `false` to run open (an explicit choice; a warning is logged). */
  auth: AuthOptions | false;
  /** Largest request body accepted. @default 1 MiB */
  bodyLimitBytes?: number;
  /** Requests over this limit get 429. */
  rateLimit?: HttpRateLimit;
  /**
   * Failed authentications allowed per client; once spent, the client gets 429 with Retry-After
   * and its tokens are not checked until the limiter lets it try again. `false` turns it off.
   * @default 10 a minute (sliding window), in this process's memory, on the conveyor's clock
   */
  authFailureLimit?: RateLimiter | false;
  /**
   * Whether X-Forwarded-For names the client (for rate-limit keys): `true` when one proxy of
   * yours sits in front, a number for several. Off, the client is the connection's address as
   * the runtime adapter recorded it, else every client shares one key. @default false
   */
  trustProxy?: TrustProxy;
  /** The scheduler the schedule routes manage. @default one that manages but does not fire */
  scheduler?: Scheduler;
  /** Where the app is mounted, for the paths in /openapi.json. @default "" */
  basePath?: string;
  /**
   * A web dashboard inside the app (at `/dashboard`, or `{ path }`), signed in with a token and
   * acting through the app's own routes and scopes. @default false
   */
  dashboard?: boolean | DashboardOptions;
  /**
   * Roles, tenants and hidden fields (README "Permissions"). Without it, tokens carry scopes
   * only and jobs record their creator's subject. @default none
   */
  permissions?: PermissionOptions;
}

const OptionsSchema = v.object({
  bodyLimitBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  authFailureLimit: v.optional(v.union([v.literal(false), v.instance(RateLimiter)])),
  trustProxy: v.optional(TrustProxySchema),
  basePath: v.optional(v.string()),
  dashboard: v.optional(DashboardOptionsSchema),
});

/**
 * Conveyor over HTTP, as a Hono app to mount anywhere: `host.route("/jobs", createApp(conveyor, { auth }))`.
 * Every body, query and path is validated before it reaches the core; every error is
 * `{ "error": { "code", "message", "issues" } }` with its status, unknown paths and methods included.
 */
export function createApp(conveyor: Conveyor, options: AppOptions): Hono<AppEnv> {
  if (!options || (options.auth !== false && typeof options.auth !== "object")) {
    throw new TypeError("createApp() needs { auth }: { secret | publicKey | jwksUrl, issuer?, audience? }, or auth: false to run without it");
  }
  parseArgument(OptionsSchema, options, "createApp() options");
  const permissions = options.permissions === undefined ? null : parsePermissions(options.permissions);
  const authenticator = options.auth === false ? null : new Authenticator({ ...options.auth, clock: options.auth.clock ?? conveyor.clock }, permissions);
  if (!authenticator) console.warn("conveyor: the HTTP app runs WITHOUT authentication (auth: false): anyone who can reach it can change every queue");
  const trustProxy = options.trustProxy ?? false;
  const throttle = new AuthThrottle(options.authFailureLimit, conveyor.clock);
  const scheduler = options.scheduler ?? conveyor.scheduler({ autostart: false });
  const stats = new ExecutionStats(conveyor.clock);
  for (const queue of conveyor.queues.values()) stats.watch(queue);
  const usage: RateLimitUsage = { allowed: 0, limited: 0 };
  const trail = conveyor.audit.options?.operator ? new HttpAuditTrail(conveyor.audit, trustProxy, permissions !== null) : null;
  const routes = auditedRoutes([
    ...jobRoutes(conveyor),
    ...workflowRoutes(conveyor),
    ...scheduleRoutes(conveyor, scheduler),
    ...auditRoutes(conveyor),
    ...opsRoutes({
      conveyor,
      stats,
      authEnabled: authenticator !== null,
      rateLimit: options.rateLimit
        ? { limiter: options.rateLimit.limiter, keyOf: requestKey(options.rateLimit, trustProxy), shared: options.rateLimit.limiter.backend.sharedAcrossProcesses, usage }
        : null,
    }),
  ], trail);
  const document = openApi(routes, { title: "Conveyor", version: "0.1.0" }, options.basePath ?? "");

  const authenticated: MiddlewareHandler<AppEnv> = async (c, next) => {
    try {
      c.set("caller", await authenticate(c, authenticator, throttle, trustProxy));
    } catch (error) {
      trail?.refused(c, error);
      throw error;
    }
    await next();
  };
  const guards = [
    requestId((id) => conveyor.redactor.string(id) === id),
    sizeLimit(options.bodyLimitBytes ?? 1024 * 1024),
    authenticated,
    ...(options.rateLimit ? [rateLimitMiddleware(options.rateLimit, usage, trustProxy)] : []),
  ];

  const table = new RouteTable();
  const app = new Hono<AppEnv>();
  app.onError((error, c) => {
    trail?.forbidden(c, error);
    return errorResponse(error, c);
  });
  app.notFound(notFound);
  // Before the fallback, so the dashboard's HTML answers (a 404 page included) stay as they are.
  if (options.dashboard) mountDashboard(app, options.dashboard, { conveyor, authenticator, throttle, trail, trustProxy });
  app.use("*", unmatched(table));
  table.add("get", "/openapi.json");
  app.get("/openapi.json", (c) => c.json(document));
  register(app, routes, guards, table, conveyor.redactor, permissions);
  return app;
}
