// Puts the dashboard inside the HTTP app: the app hands over how it authenticates, and the
// dashboard signs callers in with exactly that (throttle and audit of refusals included).
import type { Hono } from "hono";
import type { Conveyor } from "../conveyor.ts";
import { ANONYMOUS, type Authenticator } from "../http/auth.ts";
import type { AuthThrottle } from "../http/auth-throttle.ts";
import type { HttpAuditTrail } from "../http/audit-trail.ts";
import { clientKey, type TrustProxy } from "../http/client-key.ts";
import type { AppEnv } from "../http/route.ts";
import { type DashboardOptions, resolveDashboard } from "./options.ts";
import { dashboardApp } from "./routes.ts";
import { Throughput } from "./throughput.ts";

export interface DashboardMount {
  readonly conveyor: Conveyor;
  readonly authenticator: Authenticator | null;
  readonly throttle: AuthThrottle;
  readonly trail: HttpAuditTrail | null;
  readonly trustProxy: TrustProxy;
}

/** Routes the dashboard on `app` at its path; call before the app's fallback, so its HTML answers stay as they are. */
export function mountDashboard(app: Hono<AppEnv>, given: boolean | DashboardOptions, mount: DashboardMount): void {
  const { conveyor, authenticator, throttle, trail, trustProxy } = mount;
  const options = resolveDashboard(given);
  const throughput = new Throughput(conveyor.clock);
  for (const queue of conveyor.queues.values()) throughput.watch(queue);
  app.route(options.path, dashboardApp({
    conveyor,
    throughput,
    options,
    api: () => app,
    authEnabled: authenticator !== null,
    identify: async (c, token) => {
      if (!authenticator) return ANONYMOUS;
      const header = `Bearer ${token}`;
      try {
        return authenticator.remembered(header) ?? await throttle.guard(clientKey(c, trustProxy), () => authenticator.verify(header));
      } catch (error) {
        trail?.refused(c, error);
        throw error;
      }
    },
  }));
}
