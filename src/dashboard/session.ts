// The dashboard's session: an HttpOnly, SameSite=Strict cookie holding the caller's token (or,
// with auth off, a random nonce), and a CSRF token derived from it. The derivation needs the
// cookie, which no script and no other site can read, so a forged form cannot carry it; it is
// stateless, so every process behind a balancer accepts the forms of every other.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

export const SESSION_COOKIE = "conveyor_session";
/** Set with the sign-in form, compared with the form's own copy (sign-in has no session to derive from). */
export const SIGN_IN_COOKIE = "conveyor_sign_in";

/** Cookies this long at most, whatever the token says (a nonce session with auth off). */
const MAX_SESSION_S = 12 * 60 * 60;

export interface CookieSettings {
  /** The dashboard's own path, so the cookie goes nowhere else. */
  readonly path: string;
  readonly secure: boolean | "auto";
}

function secureFor(c: Context, setting: boolean | "auto"): boolean {
  if (setting !== "auto") return setting;
  return new URL(c.req.url).protocol === "https:";
}

export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The CSRF token of a session: SHA-256 of the session value, base64url. */
export async function csrfFor(session: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`conveyor-dashboard-csrf\0${session}`));
  return btoa(String.fromCharCode(...new Uint8Array(digest))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Compares without an early exit, so the time taken says nothing of where they differ. */
export function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function readSession(c: Context): string | null {
  const value = getCookie(c, SESSION_COOKIE);
  return value && value.length <= 8_192 ? value : null;
}

export function writeSession(c: Context, settings: CookieSettings, value: string, maxAgeS: number): void {
  setCookie(c, SESSION_COOKIE, value, {
    path: settings.path,
    httpOnly: true,
    sameSite: "Strict",
    secure: secureFor(c, settings.secure),
    maxAge: Math.max(1, Math.min(MAX_SESSION_S, Math.floor(maxAgeS))),
  });
}

export function clearSession(c: Context, settings: CookieSettings): void {
  deleteCookie(c, SESSION_COOKIE, { path: settings.path, secure: secureFor(c, settings.secure) });
}

export function writeSignInCookie(c: Context, settings: CookieSettings, value: string): void {
  setCookie(c, SIGN_IN_COOKIE, value, { path: settings.path, httpOnly: true, sameSite: "Strict", secure: secureFor(c, settings.secure), maxAge: 600 });
}

export function readSignInCookie(c: Context): string | null {
  return getCookie(c, SIGN_IN_COOKIE) ?? null;
}

/** Seconds until a JWT's `exp` (unverified read: the token was verified before this is asked). */
export function secondsLeft(token: string, nowMs: number): number {
  try {
    const part = token.split(".")[1] ?? "";
    const payload = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp - nowMs / 1000 : MAX_SESSION_S;
  } catch {
    return MAX_SESSION_S;
  }
}

export { MAX_SESSION_S };
