// What a webhook job keeps of an HTTP answer: a few headers, the start of the body (read no
// further than needed, then redacted), and how long the sender asks us to wait.
import type { Redactor } from "../core/redaction.ts";

/** Retry-After as milliseconds from `now`: delay-seconds or an HTTP-date; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The headers of `response` named in `keep` (lower case), as a plain object. */
export function selectHeaders(response: Response, keep: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of keep) {
    const value = response.headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

export interface BodyExcerpt {
  readonly text: string;
  readonly truncated: boolean;
}

/**
 * The first `maxChars` characters of the body, redacted. It reads four times as far as it keeps
 * (a UTF-8 character is at most 4 bytes), so a secret that starts in the kept part is read whole
 * and redacted before the cut; the rest of the body is cancelled unread.
 */
export async function bodyExcerpt(response: Response, maxChars: number, redactor: Redactor): Promise<BodyExcerpt> {
  if (!response.body) return { text: "", truncated: false };
  const limit = Math.max(1, maxChars) * 4;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let more = true;
  try {
    while (bytes < limit) {
      const { done, value } = await reader.read();
      if (done) {
        more = false;
        break;
      }
      chunks.push(value);
      bytes += value.byteLength;
    }
  } finally {
    if (more) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  const text = redactor.string(new TextDecoder().decode(all.subarray(0, limit)));
  const truncated = more || bytes > limit || text.length > maxChars;
  return { text: text.length > maxChars ? text.slice(0, maxChars) : text, truncated };
}

/** Drops an answer's body unread, so its connection is freed. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

/** A URL as messages and results show it: no credentials, no query (it may carry a token). */
export function shownUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
