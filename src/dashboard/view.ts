// What every page is rendered with, and the frame around it: landmarks, navigation, the
// sign-out form, the live status and action forms that carry the CSRF token.
import type { Context } from "hono";
import { type Caller, permits } from "../http/auth.ts";
import { type ApiAnswer, apiCall, type DashboardHost } from "./api.ts";
import { Html, html } from "./html.ts";

export interface View {
  readonly c: Context;
  readonly host: DashboardHost;
  /** The dashboard's URL path, wherever the app is mounted ("/jobs/dashboard"). */
  readonly base: string;
  readonly caller: Caller;
  /** The bearer token the API calls carry; null with auth off. */
  readonly token: string | null;
  readonly csrf: string;
  /** The page's status: a refused or failed read answers with the route's own. @default 200 */
  status?: number;
}

export function api(view: View, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  return apiCall(view.host, view.c, view.token, method, path, body);
}

export const canWrite = (view: View, queue: string) => permits(view.caller, "jobs:write", queue);

const NAV: readonly [string, string][] = [
  ["/", "Overview"],
  ["/schedules", "Schedules"],
  ["/audit", "Audit log"],
  ["/broadcasting", "Broadcasting"],
  ["/health", "Health"],
];

export interface PageSpec {
  readonly title: string;
  /** Nav entry this page belongs to ("/", "/schedules" …). */
  readonly section: string;
  readonly body: Html;
  /** Queues whose events refresh the page's [data-live] parts. */
  readonly liveQueues?: readonly string[];
}

export function page(view: View, spec: PageSpec): Html {
  const { base } = view;
  const notice = view.c.req.query("notice");
  const signOut = view.host.authEnabled
    ? html`<form method="post" action="${base}/sign-out"><input type="hidden" name="csrf" value="${view.csrf}"><button class="plain" type="submit">Sign out${view.caller.subject ? ` (${view.caller.subject})` : ""}</button></form>`
    : null;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${spec.title} · Conveyor</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/assets/dashboard.css">
<script src="${base}/assets/dashboard.js" defer></script></head>
<body data-base="${base}" data-queues="${(spec.liveQueues ?? []).join(",")}">
<a class="skip" href="#main">Skip to content</a>
<header><p class="brand">Conveyor</p>
<nav aria-label="Dashboard"><ul>${NAV.map(([path, label]) =>
    html`<li><a href="${base}${path === "/" ? "" : path}"${spec.section === path ? new Html(' aria-current="page"') : null}>${label}</a></li>`
  )}</ul></nav>
<span id="live-status" role="status">${spec.liveQueues?.length ? "Connecting…" : ""}</span>
${signOut}</header>
<main id="main" tabindex="-1"><h1>${spec.title}</h1>
${notice ? html`<p class="notice" role="status">${notice.slice(0, 200)}</p>` : null}
${spec.body}
</main></body></html>`;
}

export interface ActionSpec {
  /** Dashboard action path, under `${base}/do` ("/queues/emails/jobs/7/retry"). */
  readonly path: string;
  readonly label: string;
  /** What the button says to a screen reader when its label alone is ambiguous in a table. */
  readonly ariaLabel?: string;
  readonly danger?: boolean;
  readonly confirm?: string;
  /** Where to come back to. @default the current page */
  readonly back?: string;
}

/** A one-button form that posts an action with the CSRF token. */
export function actionForm(view: View, spec: ActionSpec): Html {
  const back = spec.back ?? currentUrl(view);
  return html`<form class="inline" method="post" action="${view.base}/do${spec.path}"${spec.confirm ? html` data-confirm="${spec.confirm}"` : null}>
<input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="back" value="${back}">
<button type="submit"${spec.danger ? new Html(' class="danger"') : null}${spec.ariaLabel ? html` aria-label="${spec.ariaLabel}"` : null}>${spec.label}</button></form>`;
}

/** The page's own path and query, less a notice, to come back to after an action. */
export function currentUrl(view: View): string {
  const url = new URL(view.c.req.url);
  url.searchParams.delete("notice");
  return url.pathname + url.search;
}

/** An answer the API refused, as the page shows it. */
export function refusal(answer: ApiAnswer): Html {
  const message = answer.json?.error?.message ?? `The request failed (${answer.status})`;
  return html`<p class="error" role="alert">${message}</p>`;
}

export function failedPage(view: View, title: string, section: string, answer: ApiAnswer): Html {
  view.status = answer.status;
  return page(view, { title, section, body: refusal(answer) });
}
