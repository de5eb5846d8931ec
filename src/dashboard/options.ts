import * as v from "valibot";
import { Broadcaster } from "../broadcast/broadcaster.ts";

export interface DashboardOptions {
  /** Where the dashboard is served inside the app (the app itself may be mounted anywhere). @default "/dashboard" */
  path?: string;
  /** Jobs per page on a queue's and the dead letters' pages. @default 50 */
  pageSize?: number;
  /** The broadcaster whose channels and presence members the broadcasting page lists. @default none: the page says so */
  broadcaster?: Broadcaster;
  /** The session cookie's `Secure` flag: `"auto"` sets it when the request came over https. @default "auto" */
  secureCookie?: boolean | "auto";
}

export const DASHBOARD_DEFAULTS = Object.freeze({ path: "/dashboard", pageSize: 50, secureCookie: "auto" as const });

export const DashboardOptionsSchema = v.union([
  v.boolean(),
  v.strictObject({
    path: v.optional(v.pipe(v.string(), v.regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'a path such as "/dashboard"'))),
    pageSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000))),
    broadcaster: v.optional(v.instance(Broadcaster)),
    secureCookie: v.optional(v.union([v.boolean(), v.literal("auto")])),
  }),
]);

export interface ResolvedDashboard {
  readonly path: string;
  readonly pageSize: number;
  readonly broadcaster: Broadcaster | null;
  readonly secureCookie: boolean | "auto";
}

export function resolveDashboard(given: boolean | DashboardOptions): ResolvedDashboard {
  const o = given === true ? {} : given === false ? {} : given;
  return Object.freeze({
    path: o.path ?? DASHBOARD_DEFAULTS.path,
    pageSize: o.pageSize ?? DASHBOARD_DEFAULTS.pageSize,
    broadcaster: o.broadcaster ?? null,
    secureCookie: o.secureCookie ?? DASHBOARD_DEFAULTS.secureCookie,
  });
}
