// A conveyor with the dashboard on, mounted under a prefix, and a client that signs in and keeps
// the session cookie as a browser would (for app.request(); the browser test signs in itself).
import { Hono } from "hono";
import { SignJWT } from "jose";
import * as v from "valibot";
import { type Conveyor, createConveyor, defineJob } from "../../mod.ts";
import { createApp } from "../../http.ts";
import type { DashboardOptions } from "../../src/dashboard/options.ts";

export const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
export const email = defineJob("email", v.object({ to: v.string(), apiKey: v.optional(v.string()) }));

export async function token(scope: string, sub = "ada", expiresIn = "10m"): Promise<string> {
  return await new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime(expiresIn).sign(new TextEncoder().encode(SECRET));
}

export interface DashboardServer {
  readonly conveyor: Conveyor;
  readonly host: Hono;
  /** The dashboard's path on the host. */
  readonly base: string;
}

export function dashboardServer(options: { auth?: boolean; prefix?: string; dashboard?: DashboardOptions; conveyor?: Conveyor } = {}): DashboardServer {
  const conveyor = options.conveyor ?? createConveyor();
  conveyor.queue("emails").register(email);
  const prefix = options.prefix ?? "/ops";
  const app = createApp(conveyor, { auth: options.auth === false ? false : { secret: SECRET }, dashboard: options.dashboard ?? true });
  const host = new Hono().get("/", (c) => c.text("home")).route(prefix, app);
  return { conveyor, host, base: `${prefix}${options.dashboard?.path ?? "/dashboard"}` };
}

export interface Answer {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
}

/** Cookies by name, as a browser keeps them for the dashboard's path. */
export class Client {
  readonly cookies = new Map<string, string>();
  constructor(readonly server: DashboardServer, readonly origin = "http://localhost") {}

  async send(method: string, path: string, form?: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<Answer> {
    const h = new Headers(headers);
    if (this.cookies.size > 0) h.set("cookie", [...this.cookies].map(([k, value]) => `${k}=${value}`).join("; "));
    let body: URLSearchParams | undefined;
    if (form) {
      body = new URLSearchParams();
      for (const [k, value] of Object.entries(form)) for (const one of ([] as string[]).concat(value)) body.append(k, one);
      h.set("content-type", "application/x-www-form-urlencoded");
    }
    const res = await this.server.host.request(`${this.origin}${path}`, { method, headers: h, body });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [name, ...rest] = pair!.split("=");
      const value = rest.join("=");
      if (value === "" || /Max-Age=0/i.test(line)) this.cookies.delete(name!);
      else this.cookies.set(name!, value);
    }
    return { status: res.status, text: await res.text(), headers: res.headers };
  }

  get(path: string): Promise<Answer> {
    return this.send("GET", path);
  }

  /** The CSRF token a page's forms carry. */
  static csrfOf(page: Answer): string {
    const found = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
    if (!found) throw new Error(`no CSRF token on the page (${page.status}): ${page.text.slice(0, 300)}`);
    return found;
  }

  async signIn(jwt: string): Promise<Answer> {
    const form = await this.get(`${this.server.base}/sign-in`);
    return await this.send("POST", `${this.server.base}/sign-in`, { csrf: Client.csrfOf(form), token: jwt });
  }
}
