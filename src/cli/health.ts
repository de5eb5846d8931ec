// `conveyor health`: asks a running server's /health and says what it found, as text or JSON.
import { NameSchema } from "../core/names.ts";
import { check } from "../core/validation.ts";
import { type HealthDocument, healthText } from "../http/health-text.ts";
import type { CliIo, Command } from "./command.ts";

/** A server that says nothing in this long is reported as unreachable (it answers within 2 s by design). */
const REQUEST_TIMEOUT_MS = 10_000;

/** Exit codes: 0 ok, 3 degraded, 1 down or no answer, 2 used wrongly (bad flags, token refused, unknown queue). */
const EXIT = { ok: 0, down: 1, usage: 2, degraded: 3 } as const;

/** `…/jobs` → `…/jobs/health`; a URL that already ends in /health is taken as it is. */
function healthUrl(base: string, queue: string | undefined): URL | null {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (!url.pathname.endsWith("/health")) url.pathname = url.pathname.replace(/\/$/, "") + "/health";
  if (queue !== undefined) url.searchParams.set("queue", queue);
  return url;
}

const isDocument = (value: unknown): value is HealthDocument =>
  typeof value === "object" && value !== null && ["ok", "degraded", "down"].includes((value as HealthDocument).status) &&
  typeof (value as HealthDocument).checks === "object" && Array.isArray((value as HealthDocument).queues);

export const healthCommand: Command = {
  summary: "ask a running server's /health: checks, configuration, the last 24 hours",
  values: ["url", "token", "queue"],
  switches: ["json"],
  usage: [
    "conveyor health --url <app URL> [--token <jwt>] [--queue <name>] [--json]",
    "",
    "  --url     where the HTTP app is mounted, e.g. http://127.0.0.1:3000/jobs (or CONVEYOR_URL); /health is added",
    "  --token   a token with ops:read (or CONVEYOR_TOKEN); none for an app run with auth: false",
    "  --queue   only this queue (its configuration, counts and figures); the checks are the same",
    "  --json    print the server's JSON document instead of text",
    "",
    "Exit codes: 0 ok, 3 degraded, 1 down or no answer from the server, 2 used wrongly",
    "(bad flags, the token refused, an unknown queue).",
  ].join("\n"),
  async run(args, io: CliIo) {
    const base = args.get("url") ?? (io.env.CONVEYOR_URL || undefined);
    const token = args.get("token") ?? (io.env.CONVEYOR_TOKEN || undefined);
    const queue = args.get("queue");
    if (base === undefined) {
      io.err("conveyor health: needs the server's URL: --url http://host:port/mount, or set CONVEYOR_URL");
      return EXIT.usage;
    }
    if (queue !== undefined && !check(NameSchema, queue, "queue").ok) {
      io.err(`conveyor health: --queue expects a queue name (no spaces or control characters), got "${queue}"`);
      return EXIT.usage;
    }
    const url = healthUrl(base, queue);
    if (!url) {
      io.err(`conveyor health: --url expects an http:// or https:// URL, got "${base}"`);
      return EXIT.usage;
    }
    const fetcher = io.fetch ?? ((target: string, init: RequestInit) => fetch(target, init));
    let response: Response;
    let body: unknown;
    try {
      response = await fetcher(url.href, {
        headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      body = await response.json().catch(() => null);
    } catch (error) {
      io.err(`conveyor health: no answer from ${url.origin}${url.pathname}: ${(error as Error)?.message ?? error}`);
      return EXIT.down;
    }
    if (!isDocument(body)) {
      const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
      io.err(`conveyor health: ${url.origin}${url.pathname} answered ${response.status}${error ? ` ${error.code}: ${error.message}` : ", not a health report"}`);
      // The caller's part (a refused token, a queue the server does not declare) is a usage error.
      return [400, 401, 403, 404].includes(response.status) ? EXIT.usage : EXIT.down;
    }
    io.out(args.has("json") ? JSON.stringify(body, null, 2) : healthText(body).trimEnd());
    return EXIT[body.status];
  },
};
