// Standard Webhooks signatures (standardwebhooks.com): HMAC-SHA256 over `id.timestamp.body`,
// sent as `webhook-signature: v1,<base64>` (several, space-separated, while a secret rotates).
// Secrets are `whsec_` + base64 of the key bytes, as Svix and the reference libraries make them.
import { ConveyorError } from "../core/errors.ts";

const PREFIX = "whsec_";
const encoder = new TextEncoder();

/** Five minutes either way, the reference libraries' default. */
export const DEFAULT_TOLERANCE_MS = 5 * 60_000;

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toBase64(bytes: ArrayBuffer): string {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The HMAC key of a `whsec_…` secret; a TypeError names what is wrong, never the secret. */
export function secretKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  if (typeof secret !== "string" || !secret.startsWith(PREFIX)) throw new TypeError(`A webhook secret must start with "${PREFIX}" followed by base64`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(secret.slice(PREFIX.length));
  } catch {
    throw new TypeError(`A webhook secret must be "${PREFIX}" followed by base64: this one does not decode`);
  }
  if (bytes.length < 16) throw new TypeError(`A webhook secret must hold at least 16 bytes (24 base64 characters); this one holds ${bytes.length}`);
  return crypto.subtle.importKey("raw", bytes as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

/** A fresh secret: `whsec_` and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)).buffer);
}

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** The three Standard Webhooks headers for one message: signed with each of `secrets`. */
export async function signWebhook(
  secrets: string | readonly string[],
  message: { id: string; timestampMs: number; body: string },
): Promise<SignedHeaders> {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  if (list.length === 0) throw new TypeError("signWebhook needs at least one secret");
  const timestamp = String(Math.floor(message.timestampMs / 1000));
  const content = encoder.encode(`${message.id}.${timestamp}.${message.body}`);
  const signatures = await Promise.all(list.map(async (secret) => `v1,${toBase64(await crypto.subtle.sign("HMAC", await secretKey(secret, "sign"), content))}`));
  return { "webhook-id": message.id, "webhook-timestamp": timestamp, "webhook-signature": signatures.join(" ") };
}

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way. @default 300_000 (5 minutes) */
  toleranceMs?: number;
  /** Now, in epoch ms (a clock's `now()` in tests). @default Date.now() */
  now?: number;
}

/** What a verified message said. */
export interface VerifiedWebhook {
  readonly id: string;
  readonly timestampMs: number;
  /** The body as sent, for the receiver to parse. */
  readonly body: string;
}

type HeaderSource = Headers | Record<string, string | undefined>;

/**
 * Checks a received webhook: the three headers present, the timestamp within `toleranceMs`, and
 * one `v1` signature of the body made with one of `secrets` (several while a secret rotates).
 * Throws `WEBHOOK_INVALID` saying which check failed. `body` must be the raw text as received:
 * re-serialised JSON does not verify. The comparison is `crypto.subtle.verify`, constant time.
 */
export async function verifyWebhook(
  secrets: string | readonly string[],
  headers: HeaderSource,
  body: string,
  options: VerifyOptions = {},
): Promise<VerifiedWebhook> {
  const header = (name: string) => headers instanceof Headers ? headers.get(name) : (headers[name] ?? headers[name.toLowerCase()] ?? null);
  const id = header("webhook-id");
  const timestamp = header("webhook-timestamp");
  const signature = header("webhook-signature");
  if (!id || !timestamp || !signature) throw new ConveyorError("WEBHOOK_INVALID", "Webhook is missing webhook-id, webhook-timestamp or webhook-signature");
  if (!/^\d{1,15}$/.test(timestamp)) throw new ConveyorError("WEBHOOK_INVALID", "Webhook timestamp is not whole seconds since the epoch");
  const timestampMs = Number(timestamp) * 1000;
  const now = options.now ?? Date.now();
  const tolerance = options.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  if (Math.abs(now - timestampMs) > tolerance) throw new ConveyorError("WEBHOOK_INVALID", `Webhook timestamp is more than ${tolerance} ms from now`);
  const content = encoder.encode(`${id}.${timestamp}.${body}`);
  const candidates = signature.split(" ").filter((s) => s.startsWith("v1,")).map((s) => s.slice(3));
  const keys = await Promise.all((typeof secrets === "string" ? [secrets] : secrets).map((secret) => secretKey(secret, "verify")));
  for (const candidate of candidates) {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(candidate);
    } catch {
      continue;
    }
    for (const key of keys) {
      if (await crypto.subtle.verify("HMAC", key, bytes as Uint8Array<ArrayBuffer>, content)) return { id, timestampMs, body };
    }
  }
  throw new ConveyorError("WEBHOOK_INVALID", "No webhook signature matches");
}
