/**
 * The high-entropy rule of the redactor: which long runs of token characters are secrets.
 *
 * A candidate is a run of at least `minLength` characters of `A-Z a-z 0-9 + / _ -` (with up to
 * two `=` of padding), standing alone. It is a secret when:
 * - it is hex (one case) with at least 2/3 of `minBits` bits of Shannon entropy per character:
 *   session tokens from `randomBytes().toString("hex")`, HMACs and many API keys look exactly
 *   like digests, so 32+ hex digits are redacted either way; or
 * - it has at least `minBits` bits per character AND reads as noise, not words: its letters and
 *   digits split into words (`Title`, `lower`, `UPPER`, `123`) of 3 characters or fewer on
 *   average. Random base62/base64 averages ~1.9; identifiers and paths (`AbstractFactoryBean`,
 *   `user_1234567890_profile_picture`, `/work/src/core/worker-attempt`) average 4 or more.
 *   About 1 in 400 random 32-character tokens reads as words and is kept; longer ones, fewer.
 *
 * Spared on purpose: canonical UUIDs (8-4-4-4-12 hex). They are the standard identifier (job,
 * request, worker ids fill logs and stacks) far more often than a credential, and a UUID used as
 * one is still caught by its context (`apiKey=…`, `Bearer …`, a secret key name in JSON).
 * A path with plain-word segments (`/api/users/<token>/avatar`) is judged segment by segment,
 * so only the token goes.
 */

const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const UUIDS = new RegExp(UUID.source, "g");
const HEX = /^(?:[0-9a-f]+|[0-9A-F]+)$/;
const WORDS = /[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+/g;
/** A path segment that is a plain word (`api`, `node_modules`, `worker-attempt`): the run is a path. */
const PLAIN_SEGMENT = /^[a-z]{3,}(?:[_-][a-z]+)*$/;

/** Shannon entropy, in bits per character. */
export function entropyBits(text: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Average length of the words a run's letters and digits make (separators end words). */
export function meanWordLength(text: string): number {
  let words = 0;
  let letters = 0;
  for (const word of text.match(WORDS) ?? []) {
    words++;
    letters += word.length;
  }
  return words === 0 ? Infinity : letters / words;
}

/** Whether one run (no UUID inside, no plain-word path) is a secret. */
function secretRun(run: string, minLength: number, minBits: number): boolean {
  const text = run.replace(/=+$/, "");
  if (text.length < minLength) return false;
  if (HEX.test(text)) return entropyBits(text) >= (minBits * 2) / 3;
  return entropyBits(text) >= minBits && meanWordLength(text) <= 3;
}

/** The candidate run with its secret parts replaced; the run itself when none is. */
export function redactRun(run: string, minLength: number, minBits: number, replacement: string): string {
  // UUIDs are kept; what lies between them is judged on its own.
  if (run.length >= 36 && UUID.test(run)) {
    let out = "";
    let at = 0;
    for (const match of run.matchAll(UUIDS)) {
      out += redactRun(run.slice(at, match.index), minLength, minBits, replacement) + match[0];
      at = match.index + match[0].length;
    }
    return out + redactRun(run.slice(at), minLength, minBits, replacement);
  }
  if (run.includes("/")) {
    const segments = run.split("/");
    if (segments.some((segment) => PLAIN_SEGMENT.test(segment))) {
      return segments.map((segment) => secretRun(segment, minLength, minBits) ? replacement : segment).join("/");
    }
  }
  return secretRun(run, minLength, minBits) ? replacement : run;
}
