// The dashboard as a Hono app: pages, sign-in, actions and the live stream, mounted inside the
// HTTP app at its `path`. Every page and action goes through the app's own routes (api.ts).
import { type Context, Hono } from "hono";
import { ANONYMOUS } from "../http/auth.ts";
import { HttpError } from "../http/errors.ts";
import { planAction } from "./actions.ts";
import { apiCall, apiResponse, type DashboardHost } from "./api.ts";
import { SCRIPT, STYLES } from "./assets.ts";
import { escape, type Html, html } from "./html.ts";
import { mergedEvents } from "./live.ts";
import { auditPage, batchPage, broadcastingPage, flowPage, healthPage, schedulesPage } from "./pages-other.ts";
import { deadPage, jobPage, overviewPage, queuePage } from "./pages-queues.ts";
import { schedulePage } from "./pages-schedule.ts";
import {
  clearSession,
  type CookieSettings,
  csrfFor,
  MAX_SESSION_S,
  randomToken,
  readSession,
  readSignInCookie,
  sameText,
  secondsLeft,
  writeSession,
  writeSignInCookie,
} from "./session.ts";
import { signInPage } from "./sign-in.ts";
import { page, type View } from "./view.ts";

const SECURITY_HEADERS: Record<string, string> = {
  // Everything the pages load comes from the app itself; forms post only to it.
  "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

/** Longest token kept in the session cookie (cookies of about 4 KB, name and attributes included, are what browsers keep). */
const MAX_TOKEN_CHARS = 3_800;

/** Queues one live stream follows at most. */
const MAX_LIVE_QUEUES = 50;

/**
 * The dashboard's URL path: the matched pattern less this route's own part, with the request's
 * real segments in place of any parameters the mount points had.
 */
function baseOf(c: Context, own: string): string {
  const pattern = c.req.routePath;
  const mount = pattern.endsWith(own) ? pattern.slice(0, pattern.length - own.length) : pattern;
  const depth = mount.split("/").filter(Boolean).length;
  return "/" + c.req.path.split("/").filter(Boolean).slice(0, depth).join("/");
}

function htmlAnswer(c: Context, body: Html, status = 200): Response {
  return c.html(body.text, status as 200, SECURITY_HEADERS);
}

/** Only our own same-origin pages may post (browsers send Sec-Fetch-Site; older ones rely on the token and SameSite). */
function crossSite(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  return site !== undefined && site !== "same-origin" && site !== "none";
}

export function dashboardApp(host: DashboardHost): Hono {
  const app = new Hono();

  /** The signed-in caller for `own` (this route's pattern), or the answer to send instead. */
  async function viewOf(c: Context, own: string, settings: { redirect: boolean }): Promise<View | Response> {
    const base = baseOf(c, own);
    const cookies: CookieSettings = { path: base, secure: host.options.secureCookie };
    if (!host.authEnabled) {
      let session = readSession(c);
      if (!session) writeSession(c, cookies, session = randomToken(), MAX_SESSION_S);
      return { c, host, base, caller: ANONYMOUS, token: null, csrf: await csrfFor(session) };
    }
    const token = readSession(c);
    const away = (notice?: string) => {
      if (!settings.redirect) return htmlAnswer(c, html`<!doctype html><html lang="en"><head><title>Sign in · Conveyor</title></head><body><main><h1>Sign in</h1><p><a href="${base}/sign-in">Sign in</a> first.</p></main></body></html>`, 401);
      return c.redirect(`${base}/sign-in${notice ? `?notice=${encodeURIComponent(notice)}` : ""}`, 303);
    };
    if (!token) return away();
    try {
      const caller = await host.identify(c, token);
      return { c, host, base, caller, token, csrf: await csrfFor(token) };
    } catch (error) {
      if (!(error instanceof HttpError) || error.status !== 401) throw error;
      clearSession(c, cookies);
      return away("Your session has ended: sign in again");
    }
  }

  const pageRoute = (own: string, render: (view: View) => Promise<Html>) => {
    app.get(own, async (c) => {
      const view = await viewOf(c, own, { redirect: true });
      if (view instanceof Response) return view;
      const body = await render(view);
      return htmlAnswer(c, body, view.status ?? 200);
    });
  };

  app.onError((error, c) => {
    const status = error instanceof HttpError ? error.status : 500;
    const message = error instanceof HttpError ? error.message : "The dashboard failed to answer; the server's log says why";
    if (!(error instanceof HttpError)) console.error("conveyor dashboard:", host.conveyor.redactor.string(String((error as Error)?.stack ?? error)));
    const headers = error instanceof HttpError ? Object.fromEntries(Object.entries(error.headers ?? {})) : {};
    return c.html(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error · Conveyor</title></head><body><main><h1>Error ${status}</h1><p role="alert">${escape(message)}</p></main></body></html>`, status as 500, { ...SECURITY_HEADERS, ...headers });
  });

  const asset = (body: string, type: string) => (c: Context) => c.body(body, 200, { "Content-Type": type, "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff" });
  app.get("/assets/dashboard.css", asset(STYLES, "text/css; charset=utf-8"));
  app.get("/assets/dashboard.js", asset(SCRIPT, "text/javascript; charset=utf-8"));

  app.get("/sign-in", (c) => {
    const base = baseOf(c, "/sign-in");
    if (!host.authEnabled) return c.redirect(base, 303);
    const nonce = randomToken();
    writeSignInCookie(c, { path: base, secure: host.options.secureCookie }, nonce);
    return htmlAnswer(c, signInPage(base, nonce, c.req.query("notice") ?? null));
  });
  app.post("/sign-in", async (c) => {
    const base = baseOf(c, "/sign-in");
    const cookies: CookieSettings = { path: base, secure: host.options.secureCookie };
    const form = await c.req.parseBody();
    const expected = readSignInCookie(c);
    const retry = (message: string, status: number) => {
      const nonce = randomToken();
      writeSignInCookie(c, cookies, nonce);
      return htmlAnswer(c, signInPage(base, nonce, null, message), status);
    };
    if (crossSite(c) || !expected || typeof form.csrf !== "string" || !sameText(form.csrf, expected)) return retry("The form had expired: sign in again", 403);
    const token = typeof form.token === "string" ? form.token.trim() : "";
    if (!/^[A-Za-z0-9._~+/-]+=*$/.test(token)) return retry("Paste a token (a JWT)", 400);
    // A browser drops a cookie past about 4 KB: say so rather than sign in to nothing.
    if (token.length > MAX_TOKEN_CHARS) return retry(`This token is ${token.length} characters long; the dashboard keeps tokens of up to ${MAX_TOKEN_CHARS} in its cookie`, 400);
    try {
      await host.identify(c, token);
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) return retry(error.message, 401);
      throw error;
    }
    writeSession(c, cookies, token, secondsLeft(token, host.conveyor.clock.now()));
    return c.redirect(base, 303);
  });
  app.post("/sign-out", async (c) => {
    const view = await viewOf(c, "/sign-out", { redirect: true });
    if (view instanceof Response) return view;
    const form = await c.req.parseBody();
    if (crossSite(c) || typeof form.csrf !== "string" || !sameText(form.csrf, view.csrf)) return htmlAnswer(c, page(view, { title: "Refused", section: "", body: html`<p class="error" role="alert">The form had expired (CSRF check failed): nothing was done.</p>` }), 403);
    clearSession(c, { path: view.base, secure: host.options.secureCookie });
    return c.redirect(`${view.base}/sign-in`, 303);
  });

  pageRoute("/", overviewPage);
  pageRoute("/schedules", schedulesPage);
  pageRoute("/schedules/:id", (view) => schedulePage(view, view.c.req.param("id")!));
  pageRoute("/audit", auditPage);
  pageRoute("/broadcasting", broadcastingPage);
  pageRoute("/health", healthPage);
  pageRoute("/queues/:queue", (view) => queuePage(view, view.c.req.param("queue")!));
  pageRoute("/queues/:queue/dead", (view) => deadPage(view, view.c.req.param("queue")!));
  pageRoute("/queues/:queue/jobs/:id", (view) => jobPage(view, view.c.req.param("queue")!, view.c.req.param("id")!));
  pageRoute("/queues/:queue/flows/:id", (view) => flowPage(view, view.c.req.param("queue")!, view.c.req.param("id")!));
  pageRoute("/queues/:queue/batches/:id", (view) => batchPage(view, view.c.req.param("queue")!, view.c.req.param("id")!));
  app.get("/queues/:queue/find", (c) => {
    const base = baseOf(c, "/queues/:queue/find");
    const id = (c.req.query("id") ?? "").trim();
    const queue = encodeURIComponent(c.req.param("queue"));
    return c.redirect(id ? `${base}/queues/${queue}/jobs/${encodeURIComponent(id)}` : `${base}/queues/${queue}`, 303);
  });

  app.get("/live", async (c) => {
    const view = await viewOf(c, "/live", { redirect: false });
    if (view instanceof Response) return view;
    const names = [...new Set((c.req.query("queues") ?? "").split(",").filter(Boolean))].slice(0, MAX_LIVE_QUEUES);
    const sources = await Promise.all(names.map((q) => apiResponse(host, c, view.token, "GET", `/queues/${encodeURIComponent(q)}/events`)));
    for (const res of sources) if (!res.ok) await res.body?.cancel();
    return new Response(mergedEvents(sources), { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" } });
  });

  app.post("/do/*", async (c) => {
    const view = await viewOf(c, "/do/*", { redirect: false });
    if (view instanceof Response) return view;
    const refuse = (message: string, status: number) =>
      htmlAnswer(c, page(view, { title: "Refused", section: "", body: html`<p class="error" role="alert">${message}</p><p><a href="${view.base}">Back to the overview</a></p>` }), status);
    const form = await c.req.parseBody({ all: true });
    const csrf = form.csrf;
    if (crossSite(c) || typeof csrf !== "string" || !sameText(csrf, view.csrf)) return refuse("The form had expired (CSRF check failed): nothing was done.", 403);
    let parts: string[];
    try {
      parts = c.req.path.slice(`${view.base}/do/`.length).split("/").map(decodeURIComponent);
    } catch {
      return refuse("No such action", 404);
    }
    const ids = ([] as unknown[]).concat(form.id ?? []).filter((id): id is string => typeof id === "string" && id.length > 0 && id.length <= 200);
    let body: unknown;
    if (typeof form.body === "string") {
      try {
        body = JSON.parse(form.body);
      } catch {
        return refuse("The schedule is not valid JSON: nothing was saved.", 400);
      }
    }
    const plan = planAction(parts, ids, body);
    if (!plan) return refuse("No such action", 404);
    for (const step of plan.steps) {
      const answer = await apiCall(host, c, view.token, step.method, step.path, step.body);
      if (answer.status >= 300) return refuse(answer.json?.error?.message ?? `The action failed (${answer.status})`, answer.status);
    }
    const backGiven = typeof form.back === "string" ? form.back : "";
    // Back only to a page of this dashboard: never an open redirect.
    const back = backGiven.startsWith(`${view.base}/`) || backGiven === view.base ? backGiven : view.base;
    const url = new URL(back.startsWith("//") ? view.base : back, "http://dashboard.invalid");
    url.searchParams.set("notice", plan.done);
    return c.redirect(url.pathname + url.search, 303);
  });
  return app;
}
