// The sign-in page: a token field and the nonce its form must send back.
import { type Html, html } from "./html.ts";

export function signInPage(base: string, nonce: string, notice: string | null, error?: string): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Conveyor</title><link rel="icon" href="data:,"><link rel="stylesheet" href="${base}/assets/dashboard.css"></head>
<body><header><p class="brand">Conveyor</p></header>
<main id="main"><h1>Sign in</h1>
${notice ? html`<p class="notice" role="status">${notice.slice(0, 200)}</p>` : null}
${error ? html`<p class="error" role="alert">${error}</p>` : null}
<form method="post" action="${base}/sign-in">
<input type="hidden" name="csrf" value="${nonce}">
<div class="row"><label for="token">Access token (JWT)</label></div>
<div class="row"><input id="token" name="token" type="password" autocomplete="off" required size="60" aria-describedby="token-help"></div>
<p id="token-help" class="muted">The token is kept in an HttpOnly cookie for this dashboard only, until it expires or you sign out.</p>
<button type="submit">Sign in</button></form></main></body></html>`;
}
