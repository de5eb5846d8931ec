import { redactRun } from "./redaction-entropy.ts";

/**
 * The redactor's built-in rules for text, each a pure function of (text, settings). They run in
 * the order of `RULE_NAMES`, each on what the one before left; every one keeps what is not a
 * secret (a key name, the `Bearer` scheme, a URL's user and host) so the text stays readable.
 */

/** A built-in rule of the redactor, by name (see README, Redaction). */
export type RedactionRule = "privateKeys" | "urlCredentials" | "keyValues" | "jwt" | "authSchemes" | "knownFormats" | "entropy";
export const RULE_NAMES: readonly RedactionRule[] = Object.freeze(["privateKeys", "urlCredentials", "keyValues", "jwt", "authSchemes", "knownFormats", "entropy"]);

export interface RuleSettings {
  readonly replacement: string;
  /** Whether a key name (as written: `api_key`, `X-Api-Key`) names a secret. */
  readonly secretKey: (key: string) => boolean;
  readonly minTokenLength: number;
  readonly minEntropyBits: number;
  /** The entropy rule's candidate runs (built from `minTokenLength`). */
  readonly tokenRun: RegExp;
}

/** PEM (and PGP) private key blocks, through their END line or the end of a cut-off text. */
const PEM = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----[\s\S]*?(?:-----END \1-----|$)/g;

/** `scheme://user:password@host`: the password goes, the user and host stay. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/?#@"'<>]*):([^\s/?#@"'<>]+)@/gi;

/**
 * `key=value`, `key: value`, `"key": "value"` (also with `\"` quotes, as JSON inside a string):
 * the value goes when the key names a secret. An `Authorization: Bearer x` value takes its scheme.
 */
const KEY_VALUE = new RegExp(
  String.raw`(?<![A-Za-z0-9_])(\\?["']?)([A-Za-z_][A-Za-z0-9_.-]{0,63})\1([ \t]*[:=][ \t]*)` +
    String.raw`(?:"((?:[^"\\\n]|\\.)*)"|\\"([^"\\\n]*)\\"|'([^'\n]*)'|((?:(?:Bearer|Basic|Digest|Token|Negotiate|bearer|basic)\s+)?[^\s&,;"'<>{}()\[\]\\]+))`,
  "g",
);

/** A JWS/JWE: base64url JSON header (`eyJ`) and payload, dot-separated. */
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){1,3}/g;

/** An HTTP credential after its scheme. */
const AUTH_SCHEME = /\b(Bearer|BEARER|bearer|Basic|BASIC|basic|Token|Digest)(\s+)([A-Za-z0-9._~+/-]+=*)/g;
/** A word of letters (`Bearer authentication`, `basic information`) is prose, not a credential. */
const PROSE = /^[A-Za-z][a-z]*$/;

/**
 * Key formats issuers document, so a key is caught whatever surrounds it: AWS access key ids,
 * GitHub, GitLab, Stripe secret and webhook keys, Slack tokens and webhooks, Google API and
 * OAuth keys, OpenAI/Anthropic (`sk-…`), npm, PyPI, SendGrid, Twilio, Mailgun, Shopify,
 * DigitalOcean, Hugging Face, Square.
 */
const KNOWN_FORMATS = new RegExp(
  [
    String.raw`\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}\b`,
    String.raw`\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b`,
    String.raw`\bgithub_pat_[A-Za-z0-9_]{22,255}\b`,
    String.raw`\bglpat-[A-Za-z0-9_-]{20,}`,
    String.raw`\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}\b`,
    String.raw`\bwhsec_[A-Za-z0-9+/=]{20,}`,
    String.raw`\bxox[abposr]-[A-Za-z0-9-]{10,}`,
    String.raw`https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+`,
    String.raw`\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])`,
    String.raw`\bya29\.[0-9A-Za-z_-]{20,}`,
    String.raw`\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`,
    String.raw`\bnpm_[A-Za-z0-9]{36}\b`,
    String.raw`\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}`,
    String.raw`\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`,
    String.raw`\bSK[0-9a-fA-F]{32}\b`,
    String.raw`\bkey-[0-9a-zA-Z]{32}\b`,
    String.raw`\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b`,
    String.raw`\bdo[opr]_v1_[a-f0-9]{64}\b`,
    String.raw`\bhf_[A-Za-z0-9]{34,}\b`,
    String.raw`\bsq0(?:atp|csp)-[0-9A-Za-z_-]{22,}`,
  ].join("|"),
  "g",
);

/** Candidate runs for the entropy rule: token characters standing alone, at least `minLength` long. */
export function tokenRunPattern(minLength: number): RegExp {
  return new RegExp(String.raw`(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{${minLength},}={0,2}(?![A-Za-z0-9+/_=-])`, "g");
}

/** Basic credentials are base64 of `user:password`. */
function basicCredential(text: string): boolean {
  try {
    return atob(text).includes(":");
  } catch {
    return false;
  }
}

/**
 * A key that names no secret gives up only its own name and separator, not its value: the value
 * may hold a key of its own (`https://host/cb?access_token=…`).
 */
function keyValues(text: string, s: RuleSettings): string {
  if (!text.includes("=") && !text.includes(":")) return text;
  let out = "";
  let at = 0;
  KEY_VALUE.lastIndex = 0;
  for (let m = KEY_VALUE.exec(text); m !== null; m = KEY_VALUE.exec(text)) {
    const [match, quote = "", key = "", separator = "", dq, eq, sq] = m;
    const head = `${quote}${key}${quote}${separator}`;
    if (!s.secretKey(key)) {
      KEY_VALUE.lastIndex = m.index + head.length;
      continue;
    }
    const value = dq !== undefined ? `"${s.replacement}"` : eq !== undefined ? `\\"${s.replacement}\\"` : sq !== undefined ? `'${s.replacement}'` : s.replacement;
    out += text.slice(at, m.index) + head + value;
    at = m.index + match.length;
  }
  return at === 0 ? text : out + text.slice(at);
}

export const RULES: Readonly<Record<RedactionRule, (text: string, s: RuleSettings) => string>> = Object.freeze({
  privateKeys: (text, s) => text.includes("-----BEGIN ") ? text.replace(PEM, s.replacement) : text,
  urlCredentials: (text, s) => text.includes("://") ? text.replace(URL_CREDENTIALS, (_, scheme, user) => `${scheme}${user}:${s.replacement}@`) : text,
  keyValues,
  jwt: (text, s) => text.includes("eyJ") ? text.replace(JWT, s.replacement) : text,
  authSchemes: (text, s) =>
    text.replace(AUTH_SCHEME, (match, scheme: string, space: string, credential: string) => {
      const secret = (credential.length >= 8 && !PROSE.test(credential)) || (scheme.toLowerCase() === "basic" && basicCredential(credential));
      return secret ? `${scheme}${space}${s.replacement}` : match;
    }),
  knownFormats: (text, s) => text.replace(KNOWN_FORMATS, s.replacement),
  entropy: (text, s) =>
    text.length < s.minTokenLength ? text : text.replace(s.tokenRun, (run) => redactRun(run, s.minTokenLength, s.minEntropyBits, s.replacement)),
});
