// A corpus of secrets to plant in payloads, logs, errors and results: each entry is the text to
// plant and the part of it that must never be read back. Fake values in the issuers' formats.

export interface Planted {
  readonly name: string;
  /** What goes into a log line, an error message or a string field. */
  readonly text: string;
  /** What must not appear anywhere a reader or a store's log/error keys can see. */
  readonly secret: string;
}

const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtYWxsb3J5Iiwic2NvcGUiOiJhZG1pbiJ9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ";
const PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0";

export const PLANTED: readonly Planted[] = [
  { name: "JWT", text: `token ${JWT}`, secret: JWT.split(".")[2]! },
  { name: "Bearer", text: "Authorization: Bearer 8a7sd6f5a4s3d2f1qwerZX", secret: "8a7sd6f5a4s3d2f1qwerZX" },
  { name: "Basic", text: "sent header Basic dXNlcjpodW50ZXIyLXBhc3M= to the proxy", secret: "dXNlcjpodW50ZXIyLXBhc3M" },
  { name: "URL credentials", text: "connecting to postgres://app:Pa55w0rd-Zebra@db.internal:5432/main", secret: "Pa55w0rd-Zebra" },
  { name: "high-entropy token", text: "session q8Zr2LmX4vKp9TfW1yBn6HcJ3sDg7RaE5uQo0NiV opened", secret: "q8Zr2LmX4vKp9TfW1yBn6HcJ3sDg7RaE5uQo0NiV" },
  { name: "hex token", text: "reset link /reset/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", secret: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" },
  { name: "AWS access key id", text: "using AKIAZ7VRSQ5TJN2XLMPQ for s3", secret: "AKIAZ7VRSQ5TJN2XLMPQ" },
  { name: "AWS secret key", text: "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
  { name: "GitHub token", text: "git push with ghp_R2d2C3poBb8Yoda9Luke1Leia4Han5Chew6Ie", secret: "ghp_R2d2C3poBb8Yoda9Luke1Leia4Han5Chew6Ie" },
  { name: "Stripe key", text: "stripe key sk_live_51HxQ2bLk3mN4pQ5rS6tU7vW8", secret: "sk_live_51HxQ2bLk3mN4pQ5rS6tU7vW8" },
  { name: "Slack token", text: "slack xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv", secret: "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv" },
  {
    name: "private key",
    text: `key:\n-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}\nKbHzq1pKdC9z\n-----END RSA PRIVATE KEY-----\n`,
    secret: PEM_BODY,
  },
  { name: "key=value", text: "retrying with api_key=shortsecret99&region=eu", secret: "shortsecret99" },
  { name: "JSON in text", text: 'body was {"password":"opensesame-42","user":"ada"}', secret: "opensesame-42" },
  { name: "custom pattern", text: "charged account ACCT-9988776655 today", secret: "9988776655" },
];

/** The custom pattern the corpus's last entry needs (a conveyor is configured with it). */
export const CUSTOM_PATTERN = /ACCT-(?<secret>\d{10})/;

/** Secrets that are plain words to the text rules: hidden only because their key names a secret. */
export const KEYED = {
  password: "correct-horse-battery-staple",
  apiKey: "k-12345-short",
  clientSecret: "not-so-random-but-secret",
  refreshToken: "rt-4242-abc",
} as const;

/** Every value that must never be read back by a reader without a payload scope. */
export const ALL_SECRETS: readonly string[] = [...PLANTED.map((p) => p.secret), ...Object.values(KEYED)];

/** All planted texts in one line. */
export const ALL_TEXT = PLANTED.map((p) => p.text).join(" | ");

/** A payload (or result) carrying every secret: keyed ones under their names, nested and in arrays. */
export function secretData(): Record<string, unknown> {
  return {
    user: "ada",
    password: KEYED.password,
    nested: { credentials: { apiKey: KEYED.apiKey }, deeper: [{ client_secret: KEYED.clientSecret }, { "Refresh-Token": KEYED.refreshToken }] },
    notes: PLANTED.map((p) => p.text),
  };
}

/** The secrets found in `text`, by name. */
export function leaks(text: string): string[] {
  const found: string[] = [];
  for (const p of PLANTED) if (text.includes(p.secret)) found.push(p.name);
  for (const [name, value] of Object.entries(KEYED)) if (text.includes(value)) found.push(`keyed ${name}`);
  return found;
}
