// The webhook job: sends a JSON body to a URL, signed per Standard Webhooks, retried on answers
// and failures that may pass (5xx, 408, 429, network errors, timeouts), ended at once on the
// rest (other 4xx, a refused address), and kept as status, a few headers and a redacted excerpt.
import * as v from "valibot";
import { type Clock, systemClock } from "../core/clock.ts";
import { defineJob, type JobDefinition } from "../core/define-job.ts";
import type { JobContext } from "../core/job-context.ts";
import type { JobSettings } from "../core/job-options.ts";
import { DEFAULT_REDACTOR, Redactor } from "../core/redaction.ts";
import { parseArgument } from "../core/validation.ts";
import { type AddressGuardOptions, guardUrl, parseAllowList, type Resolver } from "./address-guard.ts";
import { DeliveryError, RefusedError } from "./errors.ts";
import { bodyExcerpt, discard, retryAfterMs, selectHeaders, shownUrl } from "./http-answer.ts";
import { readyJob, type ReadyJob } from "./ready-job.ts";
import { secretKey, signWebhook } from "./signing.ts";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the job sets itself; a payload may not. */
const RESERVED: ReadonlySet<string> = new Set(["webhook-id", "webhook-timestamp", "webhook-signature", "host", "content-length", "transfer-encoding", "connection"]);

/** What one webhook job is told to send. */
export interface WebhookPayload {
  url: string;
  /** @default "POST" */
  method?: "POST" | "PUT" | "PATCH" | "DELETE";
  /** Extra request headers (not the webhook-* ones, host or content-length). */
  headers?: Record<string, string>;
  /** Sent as JSON; left out, the request has no body. */
  body?: unknown;
  /** The message id (`webhook-id`), the same on every retry so receivers can drop duplicates. @default "msg_<queue>_<job id>" */
  id?: string;
}
/** The payload as the handler gets it: the method filled in. */
export type ParsedWebhookPayload = WebhookPayload & { method: NonNullable<WebhookPayload["method"]> };

export const WebhookPayloadSchema: v.GenericSchema<WebhookPayload, ParsedWebhookPayload> = v.strictObject({
  url: v.pipe(v.string(), v.maxLength(2048), v.url(), v.regex(/^https?:\/\//i, "an http or https URL")),
  method: v.optional(v.picklist(["POST", "PUT", "PATCH", "DELETE"]), "POST"),
  headers: v.optional(v.record(
    v.pipe(v.string(), v.regex(TOKEN, "an HTTP header name"), v.check((name) => !RESERVED.has(name.toLowerCase()), "a header the job does not set itself")),
    v.pipe(v.string(), v.maxLength(8192), v.regex(/^[^\r\n\0]*$/, "a header value without line breaks")),
  )),
  body: v.optional(v.unknown()),
  id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200), v.regex(/^[^\s.]+$/, "an id without spaces or dots"))),
});

/** What a delivered webhook leaves as its job's result. */
export interface WebhookResult {
  readonly status: number;
  /** Where the answer came from (after redirects), without its query. */
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The start of the answer's body, redacted. */
  readonly body: string;
  readonly bodyTruncated: boolean;
  readonly redirects: number;
  readonly durationMs: number;
}

export interface WebhookJobOptions extends AddressGuardOptions {
  /** The job's name. @default "webhook" */
  name?: string;
  /** `whsec_…` secret(s) to sign with; several while rotating (each signs). @default none: no `webhook-signature` header */
  secret?: string | readonly string[];
  /** Time for one request, redirects included; past it the attempt fails and is retried. @default 30_000 */
  timeoutMs?: number;
  /** Redirects followed, each target checked like the first URL. @default 3 */
  maxRedirects?: number;
  /** Characters of the answer's body kept in the result and error messages. @default 2_000 */
  maxBodyChars?: number;
  /** Answer headers kept in the result (lower case). @default WEBHOOK_DEFAULTS.keepHeaders */
  keepHeaders?: readonly string[];
  /** Longest Retry-After honoured; a longer one is cut to this. @default 3_600_000 (1 hour) */
  maxRetryAfterMs?: number;
  /** Redacts the kept body. Give it the conveyor's (`conveyor.redactor`). @default the built-in rules */
  redactor?: Redactor;
  /** Stamps `webhook-timestamp` and times the request. @default systemClock */
  clock?: Clock;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Job defaults over WEBHOOK_DEFAULTS.job (5 attempts; backoff honouring Retry-After, else exponential from 1 s to 10 min). */
  job?: JobSettings;
}

/** Exponential from 1 s, doubling, at most 10 minutes, 20 % jitter; a Retry-After wins. */
export function webhookBackoff(retry: number, error: unknown): number {
  if (error instanceof DeliveryError && error.retryAfterMs !== null) return error.retryAfterMs;
  return Math.round(Math.min(1_000 * 2 ** (retry - 1), 600_000) * (1 - 0.2 * Math.random()));
}

/** Every setting a webhook job runs with when it is not given one. */
export interface WebhookDefaults {
  readonly name: string;
  readonly timeoutMs: number;
  readonly maxRedirects: number;
  readonly maxBodyChars: number;
  readonly keepHeaders: readonly string[];
  readonly maxRetryAfterMs: number;
  readonly job: JobSettings;
}

export const WEBHOOK_DEFAULTS: WebhookDefaults = Object.freeze({
  name: "webhook",
  timeoutMs: 30_000,
  maxRedirects: 3,
  maxBodyChars: 2_000,
  keepHeaders: Object.freeze(["content-type", "content-length", "date", "location", "retry-after", "request-id", "x-request-id"]) as readonly string[],
  maxRetryAfterMs: 3_600_000,
  job: Object.freeze({ attempts: 5, backoff: webhookBackoff }) as JobSettings,
});

const fn = <T>() => v.custom<T>((f) => typeof f === "function", "a function");
const WebhookOptionsSchema = v.strictObject({
  name: v.optional(v.string()),
  secret: v.optional(v.union([v.string(), v.pipe(v.array(v.string()), v.minLength(1))])),
  allow: v.optional(v.array(v.string())),
  resolve: v.optional(fn<Resolver>()),
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  maxRedirects: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(20))),
  maxBodyChars: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000))),
  keepHeaders: v.optional(v.array(v.pipe(v.string(), v.regex(TOKEN)))),
  maxRetryAfterMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  redactor: v.optional(v.instance(Redactor)),
  clock: v.optional(v.custom<Clock>((c) => typeof (c as Clock | null)?.now === "function", "a Clock")),
  fetch: v.optional(fn<typeof fetch>()),
  job: v.optional(v.record(v.string(), v.unknown())),
});

export type WebhookJob = ReadyJob<JobDefinition<typeof WebhookPayloadSchema>>;

/**
 * The webhook job: `webhookJob({ secret, resolve: nodeResolver() }).register(worker)`, then
 * `queue.add(job.definition, { url, body })`. Addresses are checked before every request
 * (see `AddressGuardOptions`); the checks are refusals (`WEBHOOK_REFUSED`) that send nothing.
 */
export function webhookJob(options: WebhookJobOptions = {}): WebhookJob {
  const o = parseArgument(WebhookOptionsSchema, options, "webhook job options");
  const secrets = o.secret === undefined ? [] : typeof o.secret === "string" ? [o.secret] : [...o.secret];
  for (const secret of secrets) void secretKey(secret, "sign").catch(() => {}); // a malformed secret throws its TypeError here, at definition
  const allowed = parseAllowList(o.allow ?? []);
  const settings = {
    timeoutMs: o.timeoutMs ?? WEBHOOK_DEFAULTS.timeoutMs,
    maxRedirects: o.maxRedirects ?? WEBHOOK_DEFAULTS.maxRedirects,
    maxBodyChars: o.maxBodyChars ?? WEBHOOK_DEFAULTS.maxBodyChars,
    keepHeaders: (o.keepHeaders ?? WEBHOOK_DEFAULTS.keepHeaders).map((h) => h.toLowerCase()),
    maxRetryAfterMs: o.maxRetryAfterMs ?? WEBHOOK_DEFAULTS.maxRetryAfterMs,
    redactor: o.redactor ?? DEFAULT_REDACTOR,
    clock: o.clock ?? systemClock,
    fetch: o.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init)),
    resolve: o.resolve,
    secrets,
    allowed,
  };
  const definition = defineJob(o.name ?? WEBHOOK_DEFAULTS.name, WebhookPayloadSchema, { ...WEBHOOK_DEFAULTS.job, ...(o.job as JobSettings | undefined) });
  return readyJob(definition, (payload, ctx) => deliver(payload, ctx, settings));
}

type Settings = {
  timeoutMs: number; maxRedirects: number; maxBodyChars: number; keepHeaders: string[]; maxRetryAfterMs: number;
  redactor: Redactor; clock: Clock; fetch: typeof fetch; resolve: Resolver | undefined; secrets: string[]; allowed: ReturnType<typeof parseAllowList>;
};

async function deliver(payload: ParsedWebhookPayload, ctx: JobContext, s: Settings): Promise<WebhookResult> {
  const started = s.clock.now();
  const body = payload.body === undefined ? undefined : JSON.stringify(payload.body);
  const id = payload.id ?? `msg_${ctx.queue}_${ctx.id}`;
  // Lower-cased, so the payload's "Content-Type" and ours are one header, not two joined.
  const own = Object.entries(payload.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const);
  const headers: Record<string, string> = Object.fromEntries(own);
  if (body !== undefined) headers["content-type"] ??= "application/json";
  Object.assign(headers, { "webhook-id": id, "webhook-timestamp": String(Math.floor(started / 1000)) });
  if (s.secrets.length > 0) Object.assign(headers, await signWebhook(s.secrets, { id, timestampMs: started, body: body ?? "" }));

  // One signal for the request: the job's (cancel, job timeout, shutdown) or our own timeout.
  const controller = new AbortController();
  const timedOut = new DeliveryError(`Webhook request timed out after ${s.timeoutMs} ms`);
  const timer = s.clock.setTimeout(() => controller.abort(timedOut), s.timeoutMs);
  const onAbort = () => controller.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    let url = new URL(payload.url);
    let method: string = payload.method;
    let sentBody = body;
    for (let redirects = 0;; redirects++) {
      await guardUrl(url, s.allowed, s.resolve);
      let response: Response;
      try {
        response = await s.fetch(url, { method, headers, body: sentBody, redirect: "manual", signal: controller.signal });
      } catch (cause) {
        if (controller.signal.aborted) throw controller.signal.reason;
        throw new DeliveryError(`Webhook request to ${shownUrl(url)} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await discard(response);
        if (redirects >= s.maxRedirects) throw new RefusedError("WEBHOOK_REJECTED", `Webhook ${shownUrl(url)} redirected more than ${s.maxRedirects} times`);
        const next = new URL(location, url);
        await ctx.log(`${method} ${shownUrl(url)} → ${response.status}, to ${shownUrl(next)}`);
        // As fetch does: 303 (and 301/302 after POST) become a GET without a body; other origins get no caller headers.
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
          method = "GET";
          sentBody = undefined;
          delete headers["content-type"];
        }
        if (next.origin !== url.origin) for (const [name] of own) delete headers[name];
        url = next;
        continue;
      }
      return await answer(response, url, method, redirects, started, ctx, s);
    }
  } finally {
    s.clock.clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

/** A final answer: the result on 2xx, else the error that says whether to retry. */
async function answer(response: Response, url: URL, method: string, redirects: number, started: number, ctx: JobContext, s: Settings): Promise<WebhookResult> {
  const { status } = response;
  const excerpt = await bodyExcerpt(response, s.maxBodyChars, s.redactor);
  await ctx.log(`${method} ${shownUrl(url)} → ${status}`);
  if (status >= 200 && status < 300) {
    return {
      status,
      url: shownUrl(url),
      headers: selectHeaders(response, s.keepHeaders),
      body: excerpt.text,
      bodyTruncated: excerpt.truncated,
      redirects,
      durationMs: s.clock.now() - started,
    };
  }
  const said = excerpt.text === "" ? "" : `: ${excerpt.text.slice(0, 200)}`;
  if (status >= 500 || status === 408 || status === 429) {
    const wait = retryAfterMs(response.headers.get("retry-after"), s.clock.now());
    const retryAfter = wait === null ? null : Math.min(wait, s.maxRetryAfterMs);
    throw new DeliveryError(`Webhook ${shownUrl(url)} answered ${status}${said}`, { status, retryAfterMs: retryAfter });
  }
  throw new RefusedError("WEBHOOK_REJECTED", `Webhook ${shownUrl(url)} answered ${status}, not retried${said}`);
}
