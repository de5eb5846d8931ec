import { Hono } from "hono";
import type { Conveyor } from "../conveyor.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { ANONYMOUS, Authenticator, type AuthOptions } from "./auth.ts";
import { body as errorBody, errorResponse } from "./errors.ts";
import { type HttpRateLimit, rateLimitMiddleware, type RateLimitUsage } from "./rate-limit.ts";
import { type AppEnv, openApi, register } from "./route.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { opsRoutes } from "./routes/ops.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { sizeLimit } from "./size-limit.ts";
import { ExecutionStats } from "./stats.ts";

export interface AppOptions {
  /** Bearer JWT verification, or `false` to run open (an explicit choice; a warning is logged). */
  auth: AuthOptions | false;
  /** Largest request body accepted. @default 1 MiB */
  bodyLimitBytes?: number;
  /** Requests over this limit get 429. */
  rateLimit?: HttpRateLimit;
  /** The scheduler the schedule routes manage. @default one that manages but does not fire */
  scheduler?: Scheduler;
  /** Where the app is mounted, for the paths in /openapi.json. @default "" */
  basePath?: string;
}

/**
 * Conveyor over HTTP, as a Hono app to mount anywhere: `host.route("/jobs", createApp(conveyor, { auth }))`.
 * Every body, query and path is validated before it reaches the core; every error is
 * `{ "error": { "code", "message", "issues" } }` with its status.
 */
export function createApp(conveyor: Conveyor, options: AppOptions): Hono<AppEnv> {
  if (!options || (options.auth !== false && typeof options.auth !== "object")) {
    throw new TypeError("createApp() needs { auth }: { secret | publicKey | jwksUrl, issuer?, audience? }, or auth: false to run without it");
  }
  const authenticator = options.auth === false ? null : new Authenticator({ ...options.auth, clock: options.auth.clock ?? conveyor.clock });
  if (!authenticator) console.warn("conveyor: the HTTP app runs WITHOUT authentication (auth: false): anyone who can reach it can change every queue");
  const scheduler = options.scheduler ?? conveyor.scheduler({ autostart: false });
  const stats = new ExecutionStats(conveyor.clock);
  for (const queue of conveyor.queues.values()) stats.watch(queue);
  const usage: RateLimitUsage = { allowed: 0, limited: 0 };
  const routes = [
    ...jobRoutes(conveyor),
    ...scheduleRoutes(conveyor, scheduler),
    ...opsRoutes({
      conveyor,
      stats,
      authEnabled: authenticator !== null,
      rateLimit: options.rateLimit ? { rule: options.rateLimit.limiter.rule, shared: options.rateLimit.limiter.backend.sharedAcrossProcesses, usage } : null,
    }),
  ];
  const document = openApi(routes, { title: "Conveyor", version: "0.1.0" }, options.basePath ?? "");

  const app = new Hono<AppEnv>();
  app.onError(errorResponse);
  app.notFound((c) => c.json(errorBody("NOT_FOUND", `No route ${c.req.method} ${c.req.path}`), 404));
  app.get("/openapi.json", (c) => c.json(document));
  app.use("*", sizeLimit(options.bodyLimitBytes ?? 1024 * 1024));
  app.use("*", async (c, next) => {
    c.set("caller", authenticator ? await authenticator.verify(c.req.header("authorization")) : ANONYMOUS);
    await next();
  });
  if (options.rateLimit) app.use("*", rateLimitMiddleware(options.rateLimit, usage));
  register(app, routes);
  return app;
}
