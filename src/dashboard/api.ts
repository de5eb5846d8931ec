// The dashboard reads and acts through the app's own routes, in-process: the same scopes,
// validation, redaction and audit trail as any API client, so the pages cannot show or do more
// than the caller's token allows.
import type { Context, Hono } from "hono";
import { recordClientAddress, recordedClientAddress } from "../adapter/client-address.ts";
import type { Conveyor } from "../conveyor.ts";
import type { Caller } from "../http/auth.ts";
import type { AppEnv } from "../http/route.ts";
import type { ResolvedDashboard } from "./options.ts";
import type { Throughput } from "./throughput.ts";

/** What the app hands its dashboard. */
export interface DashboardHost {
  readonly conveyor: Conveyor;
  readonly options: ResolvedDashboard;
  /** Per-minute completions and failures of every queue, since the app started. */
  readonly throughput: Throughput;
  /** The app the dashboard is part of, for in-process requests to its routes. */
  readonly api: () => Hono<AppEnv>;
  /** Whether the app checks tokens; when not, the dashboard needs no sign-in. */
  readonly authEnabled: boolean;
  /** The caller a token names (throttled like the API's own authentication); throws a 401 or 429. */
  identify(c: Context, token: string): Promise<Caller>;
}

export interface ApiAnswer {
  readonly status: number;
  readonly json: any;
}

const FORWARDED = ["x-forwarded-for", "x-request-id", "user-agent"];

/** A request to the app's routes on behalf of the dashboard's caller. */
export function apiRequest(c: Context, token: string | null, method: string, path: string, body?: unknown): Request {
  const headers = new Headers();
  for (const name of FORWARDED) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  if (body !== undefined) headers.set("content-type", "application/json");
  const request = new Request(`http://dashboard.invalid${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  // The caller's address, for the audit trail and rate-limit keys, as if it had called the route itself.
  recordClientAddress(request, recordedClientAddress(c.req.raw));
  return request;
}

export async function apiResponse(host: DashboardHost, c: Context, token: string | null, method: string, path: string, body?: unknown): Promise<Response> {
  return await host.api().fetch(apiRequest(c, token, method, path, body), c.env);
}

export async function apiCall(host: DashboardHost, c: Context, token: string | null, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const res = await apiResponse(host, c, token, method, path, body);
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON: kept null */ }
  return { status: res.status, json };
}

/** One path segment, encoded. */
export const seg = (value: string) => encodeURIComponent(value);
