// The redactor on its own: each rule's true positives and what it must leave alone, JSON walks
// (keys, depth, no mutation), the reader view (payload scope, stacks) and its options.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createConveyor, createRedactor, REDACTION_DEFAULTS, Redactor } from "../mod.ts";
import { entropyBits, meanWordLength } from "../src/core/redaction-entropy.ts";
import { ALL_TEXT, CUSTOM_PATTERN, KEYED, leaks, PLANTED, secretData } from "./support/secrets.ts";

const R = "[REDACTED]";
const redactor = createRedactor();
const same = (text: string) => assert.equal(redactor.string(text), text, `must be left as it is: ${text}`);
const gone = (text: string, secret: string, expected?: string) => {
  const out = redactor.string(text);
  assert.ok(!out.includes(secret), `"${secret}" survived in: ${out}`);
  if (expected !== undefined) assert.equal(out, expected);
};

/** Random text from an alphabet, with a seeded generator so a failure can be replayed. */
function randomToken(alphabet: string, length: number, seed: number): string {
  let x = seed;
  let out = "";
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out += alphabet[(x >>> 8) % alphabet.length];
  }
  return out;
}
const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

describe("redaction rules", () => {
  test("JWTs, whole", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    gone(`got ${jwt} back`, jwt, `got ${R} back`);
    gone(`unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEifQ.`, "eyJzdWIiOiJhZGEifQ");
    same("eyJust a word that starts like one");
  });

  test("Bearer and Basic credentials, keeping the scheme; prose after the word stays", () => {
    gone("sent Bearer abc123DEF456ghi", "abc123DEF456ghi", `sent Bearer ${R}`);
    gone("bearer 0123456789abcdef.xyz", "0123456789abcdef");
    gone("Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", `Basic ${R}`); // user:pass
    same("Bearer authentication is used");
    same("basic information about the job");
    same("Bearer token required"); // too short to be one
  });

  test("credentials in URLs: the password goes, user and host stay", () => {
    gone("redis://default:s3cr3t@cache:6379/0", "s3cr3t", `redis://default:${R}@cache:6379/0`);
    gone("https://ada:pa%24%24@example.com/x", "pa%24%24");
    same("https://example.com/path?x=1");
    same("mailto ada@example.com");
    same("https://ada@example.com/"); // a user alone is no secret
  });

  test("key=value and key: value in text, for the configured key names (case and separators ignored)", () => {
    gone("login password=hunter2 user=ada", "hunter2", `login password=${R} user=ada`);
    gone("X-Api-Key: k_9f8e7d", "k_9f8e7d", `X-Api-Key: ${R}`);
    gone("?access_token=abc.def&x=1", "abc.def");
    gone("GET https://api.example.com/cb?refresh_token=rt-1&y=2", "rt-1");
    gone(`{"clientSecret": "two words"}`, "two words", `{"clientSecret": "${R}"}`);
    gone(String.raw`{\"token\":\"t-42-x\"}`, "t-42-x");
    gone("secret: 'single quoted'", "single quoted");
    gone("Authorization: Bearer abc", "abc", `Authorization: ${R}`);
    same("tokens: 12, max_tokens=256, tokenizer=bpe"); // not keys that end in a secret name
    same("Error: connection refused at host=db port=5432");
    same("password:\nnext line"); // a value is on its own line
  });

  test("well-known key formats", () => {
    const keys = [
      "AKIAIOSFODNN7EXAMPL3", "ASIAZ7VRSQ5TJN2XLMPQ",
      `ghp_${"a1B2c3D4e5".repeat(4)}`, `github_pat_11ABCDEFG0${"x".repeat(40)}`, "glpat-abcdefghij0123456789",
      "sk_live_51HxQ2bLk3mN4pQ5rS6tU7vW8", "rk_test_abcdefghij0123", "whsec_abcdefghijklmnopqrstuv",
      "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
      "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "sk-proj-abcdefghijklmnopqrstuvwx", "sk-ant-api03-abcdefghijklmnopqrst",
      `npm_${"a1b2c3d4e5f6".repeat(3)}`, "SG.abcdefghijklmnop.qrstuvwxyz0123456789", `SK${"0a".repeat(16)}`,
      `hf_${"aB3".repeat(12)}`, `shpat_${"0f".repeat(16)}`, `dop_v1_${"ab".repeat(32)}`,
    ];
    for (const key of keys) gone(`key ${key} end`, key, `key ${R} end`);
    same("sk-learn is a library"); // too short for an sk- key
    same("AKIA is a prefix"); // not a key by itself
  });

  test("private key blocks, also when cut off", () => {
    gone("-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBg\n-----END PRIVATE KEY-----\nrest", "MIIBVAIBADANBg", `${R}\nrest`);
    gone("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", "b3BlbnNzaC1rZXk", R);
    gone("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----", "lQOYBF", R);
    same("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"); // public
  });

  test("long high-entropy tokens: random base62/base64/hex of 32+ characters", () => {
    let caught = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const token = randomToken(BASE62, 40, seed);
      if (!redactor.string(`t ${token} t`).includes(token)) caught++;
    }
    // Random 40-character tokens read as words about 1 time in 700 (see redaction-entropy.ts).
    assert.ok(caught >= 396, `caught ${caught} of 400`);
    gone("sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    gone("b64 SGVsbG8gV29ybGQhIFRoaXMgaXMgYSBsb25nIG1lc3NhZ2U= end", "SGVsbG8gV29ybGQhIFRoaXMgaXMgYSBsb25nIG1lc3NhZ2U=");
    gone("/api/users/Xk3pQ9zLm2Vb7Nc4Rt8Wy1Hj6Gf5Ds0Aq/avatar", "Xk3pQ9zLm2Vb7Nc4Rt8Wy1Hj6Gf5Ds0Aq", `/api/users/${R}/avatar`);
    assert.ok(entropyBits(randomToken(BASE62, 40, 7)) > 4);
    assert.ok(meanWordLength("AbstractSingletonProxyFactoryBean") > 3);
  });

  test("what the entropy rule leaves: UUIDs, words, identifiers, paths, stack frames, low-entropy runs, short tokens", () => {
    same("job 3f2b1c4e-9a8b-4c7d-8e6f-5a4b3c2d1e0f of worker 6B29FC40-CA47-1067-B31D-00DD010662DA");
    same("AbstractSingletonProxyFactoryBean user_1234567890_profile_picture_thumbnail");
    same("internationalization_and_localization ERR_INVALID_ARG_TYPE_SOMETHING_VERY_LONG");
    same("at runAttempt (file:///work/main/src/core/worker-attempt.ts:70:24)");
    same("at async Promise.all (index 0)\n    at /home/ada/projects/conveyor/node_modules/hono/dist/hono-base.js:12:3");
    same("0000000000000000000000000000000000000000 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    same("short Xk3pQ9zLm2Vb7Nc4Rt8W token"); // under 32
    same("2026-11-01T02:00:00.000Z monthly-report-for-customer-ada-lovelace-v2");
  });

  test("custom patterns: the whole match, or only the secret group", () => {
    const custom = createRedactor({ patterns: [/\bEMP-\d{6}\b/, CUSTOM_PATTERN] });
    assert.equal(custom.string("employee EMP-123456 and ACCT-9988776655"), `employee ${R} and ACCT-${R}`);
    const pattern = /x+/g;
    pattern.lastIndex = 3;
    createRedactor({ patterns: [pattern] }).string("xx yy xx");
    assert.equal(pattern.lastIndex, 3, "the caller's RegExp is not touched");
    assert.equal(createRedactor({ patterns: [/a*/] }).string("bbbbbbbb aaa"), `bbbbbbbb ${R}`, "an empty match does not loop");
  });

  test("every planted secret is caught, and redacting twice changes nothing", () => {
    const custom = createRedactor({ patterns: [CUSTOM_PATTERN] });
    for (const p of PLANTED) assert.deepEqual(leaks(custom.string(p.text)), [], p.name);
    const once = custom.string(ALL_TEXT);
    assert.equal(custom.string(once), once);
  });
});

describe("redacting JSON", () => {
  test("values under secret keys go whole, at any depth and in arrays; other strings go through the rules", () => {
    const custom = createRedactor({ patterns: [CUSTOM_PATTERN] });
    const out = custom.json(secretData()) as ReturnType<typeof secretData>;
    assert.deepEqual(leaks(JSON.stringify(out)), []);
    assert.equal(out.user, "ada");
    assert.equal(out.password, R);
    assert.deepEqual(out.nested, { credentials: R, deeper: [{ client_secret: R }, { "Refresh-Token": R }] });
    assert.deepEqual(redactor.json({ token: null, secret: false, password: "", apiKey: 42, tokens: 7 }), { token: null, secret: false, password: "", apiKey: R, tokens: 7 });
  });

  test("never changes the input; parts with nothing to redact are shared", () => {
    const input = { plain: { a: 1, list: ["x"] }, password: "p", log: ["token=abc123"] };
    const before = JSON.stringify(input);
    const out = redactor.json(input);
    assert.equal(JSON.stringify(input), before);
    assert.notEqual(out, input);
    assert.equal(out.plain, input.plain);
    assert.deepEqual(out.log, [`token=${R}`]);
    const clean = { a: [1, 2, { b: "c" }] };
    assert.equal(redactor.json(clean), clean);
  });

  test("depth is bounded, cycles end, __proto__ stays data, toJSON is honoured", () => {
    let deep: unknown = "token=abc123";
    for (let i = 0; i < 200; i++) deep = { d: deep };
    let text = JSON.stringify(redactor.json(deep));
    assert.ok(text.includes(R) && !text.includes("abc123"));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    text = JSON.stringify(createRedactor({ maxDepth: 5 }).json(cyclic));
    assert.ok(text.includes(R));
    const proto = JSON.parse('{"__proto__": {"password": "p"}, "n": 1}');
    const out = redactor.json(proto) as Record<string, unknown>;
    assert.ok(Object.hasOwn(out, "__proto__"));
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, "__proto__")!.value, { password: R });
    assert.deepEqual(redactor.json({ at: new Date(0) }), { at: "1970-01-01T00:00:00.000Z" });
  });

  test("errors: message and stack", () => {
    const info = { name: "Error", message: "failed with password=hunter2", stack: "Error: failed with password=hunter2\n    at x (file:///a.ts:1:1)", code: "E" };
    assert.deepEqual(redactor.error(info), { name: "Error", message: `failed with password=${R}`, stack: `Error: failed with password=${R}\n    at x (file:///a.ts:1:1)`, code: "E" });
    const clean = { name: "Error", message: "plain" };
    assert.equal(redactor.error(clean), clean);
  });

  test("errorText: stack, causes and thrown non-errors, redacted, for console lines", () => {
    const error = new Error("outer Bearer abc123DEF456", { cause: new Error("inner redis://u:pw12345@h") });
    const text = redactor.errorText(error);
    assert.match(text, /outer Bearer \[REDACTED\]/);
    assert.match(text, /cause: Error: inner redis:\/\/u:\[REDACTED\]@h/);
    assert.equal(redactor.errorText({ token: "abc123" }), `{"token":"${R}"}`);
    assert.equal(redactor.errorText("password=hunter2"), `password=${R}`);
  });
});

describe("the reader view", () => {
  const job = {
    id: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", // a custom id is served as it is
    queue: "q",
    payload: { password: "p", note: "token=abc123" },
    result: { apiKey: "k" },
    progress: { stage: "Bearer abc123DEF456" },
    steps: { login: { cookie: "sid=1" } },
    logs: ["password=hunter2"],
    lastError: { name: "Error", message: "m", stack: "Error: m\n    at x" },
    dead: { error: { name: "Error", message: "m", stack: "Error: m\n    at y" } },
  };

  test("without a payload scope: job data redacted, stacks left out, identifiers kept", () => {
    const view = redactor.forReader(job, { payloads: false, stacks: false });
    assert.equal(view.id, job.id);
    assert.deepEqual(view.payload, { password: R, note: `token=${R}` });
    assert.deepEqual(view.result, { apiKey: R });
    assert.deepEqual(view.progress, { stage: `Bearer ${R}` });
    assert.deepEqual(view.steps, { login: { cookie: R } });
    assert.deepEqual(view.logs, [`password=${R}`]);
    assert.deepEqual(view.lastError, { name: "Error", message: "m" });
    assert.deepEqual(view.dead, { error: { name: "Error", message: "m" } });
    assert.equal(job.lastError.stack, "Error: m\n    at x", "the input keeps its stack");
  });

  test("with a payload scope and stacks asked for: data as stored, stacks (redacted) served", () => {
    const view = redactor.forReader(job, { payloads: true, stacks: true });
    assert.equal(view.payload, job.payload);
    assert.equal(view.result, job.result);
    assert.deepEqual(view.logs, [`password=${R}`], "logs are redacted for every reader");
    assert.equal(view.lastError.stack, "Error: m\n    at x");
  });

  test("an error's stack inside job data (a catch step's payload) is left out too; a plain `stack` field is data", () => {
    const catchStep = { payload: { name: "Error", message: "m", stack: "Error: m\n    at z" }, result: { stack: "typescript" } };
    for (const payloads of [false, true]) {
      const view = redactor.forReader(catchStep, { payloads, stacks: false });
      assert.deepEqual(view.payload, { name: "Error", message: "m" });
      assert.deepEqual(view.result, { stack: "typescript" });
    }
    assert.equal(redactor.forReader(catchStep, { payloads: true, stacks: true }).payload, catchStep.payload, "as stored: not even walked");
  });

  test("turned off: nothing rewritten, stacks still only on request", () => {
    const off = createRedactor({ enabled: false });
    assert.equal(off.string("password=hunter2"), "password=hunter2");
    const view = off.forReader(job, { payloads: false, stacks: false });
    assert.equal(view.payload, job.payload);
    assert.deepEqual(view.lastError, { name: "Error", message: "m" });
  });
});

describe("redaction options", () => {
  test("keys replace the defaults; extend them by spreading REDACTION_DEFAULTS.keys", () => {
    const only = createRedactor({ keys: ["ssn"] });
    assert.deepEqual(only.json({ ssn: "078-05-1120", password: "p" }), { ssn: R, password: "p" });
    const more = createRedactor({ keys: [...REDACTION_DEFAULTS.keys, "ssn"] });
    assert.deepEqual(more.json({ ssn: "x", password: "p" }), { ssn: R, password: R });
    assert.ok(Object.isFrozen(REDACTION_DEFAULTS) && Object.isFrozen(REDACTION_DEFAULTS.keys));
    assert.deepEqual(Object.keys(KEYED).filter((key) => !redactor.secretKey(key)), []);
  });

  test("rules can be turned off one by one; replacement and token length are settable", () => {
    const noEntropy = createRedactor({ rules: { entropy: false } });
    const token = "q8Zr2LmX4vKp9TfW1yBn6HcJ3sDg7RaE5uQo0NiV";
    assert.equal(noEntropy.string(token), token);
    assert.equal(noEntropy.string("password=x1234567"), `password=${R}`);
    assert.equal(createRedactor({ replacement: "***" }).string("password=hunter2"), "password=***");
    assert.equal(createRedactor({ minTokenLength: 16 }).string("id Xk3pQ9zLm2Vb7Nc4 end"), `id ${R} end`);
  });

  test("bad options are a TypeError naming the field", () => {
    assert.throws(() => createRedactor({ replacment: "x" } as never), TypeError);
    assert.throws(() => createRedactor({ minTokenLength: 2 }), /minTokenLength/);
    assert.throws(() => createRedactor({ patterns: ["x"] as never }), /patterns/);
    assert.throws(() => createRedactor({ rules: { nope: false } as never }), /rules/);
    assert.throws(() => createConveyor({ redaction: { keys: [""] } }), /keys/);
  });

  test("a conveyor has one, from its options", () => {
    const conveyor = createConveyor({ redaction: { replacement: "<hidden>" } });
    assert.ok(conveyor.redactor instanceof Redactor);
    assert.equal(conveyor.redactor.string("password=hunter2"), "password=<hidden>");
    assert.equal(conveyor.queue("q").context.redactor, conveyor.redactor);
  });
});
