import * as v from "valibot";
import { MAX_DATA_DEPTH } from "./clone.ts";
import type { ErrorInfo } from "./errors.ts";
import { type RedactionRule, RULE_NAMES, RULES, type RuleSettings, tokenRunPattern } from "./redaction-rules.ts";
import { parseArgument } from "./validation.ts";

export type { RedactionRule } from "./redaction-rules.ts";

/**
 * Secrets out of everything Conveyor stores or sends: job logs, errors, dead-letter info, events,
 * console lines and HTTP answers. One redactor per conveyor (`createConveyor({ redaction })`);
 * `createRedactor` makes one to call yourself. Payloads are never rewritten where they are
 * stored: readers see them through `forReader`.
 */
export interface RedactionOptions {
  /** Redact at all. Off, text and data pass as they are (stacks are still served only on request). @default true */
  enabled?: boolean;
  /**
   * Key names whose values are replaced whole, in JSON at any depth and in `key=value` /
   * `key: value` text. Matched case-insensitively, ignoring `-`, `_`, `.` and spaces, against the
   * end of the key: `token` covers `accessToken`, `refresh_token` and `X-CSRF-Token` (not
   * `tokens` or `tokenizer`). Replaces the list: extend it with `[...REDACTION_DEFAULTS.keys, "ssn"]`.
   * @default REDACTION_DEFAULTS.keys (password, secret, token, apiKey, authorization, cookie, …)
   */
  keys?: readonly string[];
  /**
   * Your own patterns, applied after the built-in rules: each match is replaced, or only its
   * `(?<secret>…)` group when it has one (`/account=(?<secret>\d+)/`). @default []
   */
  patterns?: readonly RegExp[];
  /** Built-in rules to turn off (`{ entropy: false }`); a rule left out stays on. @default every rule on */
  rules?: Partial<Record<RedactionRule, boolean>>;
  /** What a secret becomes. @default "[REDACTED]" */
  replacement?: string;
  /** Shortest run of token characters the entropy rule judges. @default 32 */
  minTokenLength?: number;
  /** Bits of entropy per character from which such a run is a secret (2/3 of it for hex). @default 3.5 */
  minEntropyBits?: number;
  /** Levels of objects and arrays walked; what lies deeper is replaced whole. @default MAX_DATA_DEPTH (100) */
  maxDepth?: number;
}

/** Every setting a redactor runs with when it is not given one. */
export type RedactionDefaults = Readonly<Required<Omit<RedactionOptions, "rules">> & { rules: Readonly<Record<RedactionRule, boolean>> }>;

export const REDACTION_DEFAULTS: RedactionDefaults = Object.freeze({
  enabled: true,
  keys: Object.freeze([
    "password", "passwd", "passphrase", "secret", "token", "apiKey", "accessKey", "accountKey", "secretKey", "privateKey",
    "authorization", "cookie", "credential", "credentials", "sessionId",
  ]) as readonly string[],
  patterns: Object.freeze([]) as readonly RegExp[],
  rules: Object.freeze(Object.fromEntries(RULE_NAMES.map((rule) => [rule, true]))) as Readonly<Record<RedactionRule, boolean>>,
  replacement: "[REDACTED]",
  minTokenLength: 32,
  minEntropyBits: 3.5,
  maxDepth: MAX_DATA_DEPTH,
});

export const RedactionOptionsSchema = v.strictObject({
  enabled: v.optional(v.boolean()),
  keys: v.optional(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(100)))),
  patterns: v.optional(v.array(v.instance(RegExp))),
  rules: v.optional(v.strictObject(Object.fromEntries(RULE_NAMES.map((rule) => [rule, v.optional(v.boolean())])) as Record<RedactionRule, v.OptionalSchema<v.BooleanSchema<undefined>, undefined>>)),
  replacement: v.optional(v.pipe(v.string(), v.maxLength(100))),
  minTokenLength: v.optional(v.pipe(v.number(), v.integer(), v.minValue(8), v.maxValue(1_000))),
  minEntropyBits: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(16))),
  maxDepth: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000))),
});

/** What one reader may see: payloads and results as stored (a payload scope), and stacks. */
export interface ReaderAccess {
  readonly payloads: boolean;
  readonly stacks: boolean;
}

/** Job data, as readers see it: as stored with a payload scope, else through the redactor. */
const DATA_KEYS = new Set(["payload", "result", "progress", "steps"]);
/** Names of things the API addresses: served as they are, or a client could not find its job again. */
const IDENTIFIER_KEYS = new Set(["id", "jobId", "queue", "name", "state", "dedupKey", "lastJobId", "scheduleId", "workerId", "createdBy", "by"]);
const KEY_CACHE_SIZE = 10_000;

const normalise = (key: string) => key.toLowerCase().replace(/[-_.\s]/g, "");

/** Copies an own property onto a fresh object; `"__proto__"` stays data. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

/** How one walk treats what it meets: rewrite secrets or not, keep errors' stacks or not, read as a reader (job data and identifiers by key). */
interface Walk {
  readonly redact: boolean;
  readonly stacks: boolean;
  readonly reader: ReaderAccess | null;
}
/** Returned for a key to leave out. */
const OMIT = Symbol("omit");
const JSON_WALK: Walk = Object.freeze({ redact: true, stacks: true, reader: null });

export class Redactor {
  readonly enabled: boolean;
  readonly replacement: string;
  readonly #rules: ((text: string, s: RuleSettings) => string)[];
  readonly #patterns: RegExp[];
  readonly #names: string[];
  readonly #settings: RuleSettings;
  readonly #maxDepth: number;
  readonly #secretKeys = new Map<string, boolean>();

  constructor(options: RedactionOptions = {}) {
    const o = parseArgument(RedactionOptionsSchema, options, "redaction options");
    const rules = { ...REDACTION_DEFAULTS.rules, ...o.rules };
    this.enabled = o.enabled ?? REDACTION_DEFAULTS.enabled;
    this.replacement = o.replacement ?? REDACTION_DEFAULTS.replacement;
    this.#rules = RULE_NAMES.filter((rule) => rules[rule] !== false).map((rule) => RULES[rule]);
    // Our own copies, global (not sticky) and with indices: the caller's objects keep their lastIndex.
    this.#patterns = (o.patterns ?? REDACTION_DEFAULTS.patterns).map((p) => new RegExp(p.source, [...new Set(p.flags.replace("y", "") + "gd")].join("")));
    this.#names = (o.keys ?? REDACTION_DEFAULTS.keys).map(normalise).filter(Boolean);
    this.#maxDepth = o.maxDepth ?? REDACTION_DEFAULTS.maxDepth;
    const minTokenLength = o.minTokenLength ?? REDACTION_DEFAULTS.minTokenLength;
    this.#settings = {
      replacement: this.replacement,
      secretKey: (key) => this.secretKey(key),
      minTokenLength,
      minEntropyBits: o.minEntropyBits ?? REDACTION_DEFAULTS.minEntropyBits,
      tokenRun: tokenRunPattern(minTokenLength),
    };
  }

  /** Whether a key name names a secret (see `keys`). */
  secretKey(key: string): boolean {
    if (!this.enabled) return false;
    let known = this.#secretKeys.get(key);
    if (known === undefined) {
      const name = normalise(key);
      known = this.#names.some((n) => name.endsWith(n));
      if (this.#secretKeys.size >= KEY_CACHE_SIZE) this.#secretKeys.clear();
      this.#secretKeys.set(key, known);
    }
    return known;
  }

  /** The text with every secret the rules find replaced. */
  string(text: string): string {
    // Shorter text holds at most a few characters of secret (`pwd=abcd`): not worth the scan.
    if (!this.enabled || text.length < 8) return text;
    let out = text;
    for (const rule of this.#rules) out = rule(out, this.#settings);
    for (const pattern of this.#patterns) out = this.#custom(out, pattern);
    return out;
  }

  /**
   * A JSON value with secrets replaced: strings by the rules, values under secret keys whole,
   * anything past `maxDepth` whole. The input is never changed; parts with nothing to redact are
   * shared with it, not copied.
   */
  json<T>(value: T): T {
    if (!this.enabled) return value;
    return this.#walk(value, 0, JSON_WALK) as T;
  }

  /** An error as it may be stored: message and stack redacted. */
  error(info: ErrorInfo): ErrorInfo {
    if (!this.enabled) return info;
    const message = this.string(info.message);
    const stack = info.stack === undefined ? undefined : this.string(info.stack);
    if (message === info.message && stack === info.stack) return info;
    return { ...info, message, ...(stack === undefined ? {} : { stack }) };
  }

  /** The text of anything thrown, for a console line: its stack (or name and message) and causes, redacted. */
  errorText(error: unknown, depth = 0): string {
    let text: string;
    if (error instanceof Error) {
      text = error.stack?.includes(error.message) ? error.stack : `${error.name}: ${error.message}${error.stack ? `\n${error.stack}` : ""}`;
      if (error.cause !== undefined && depth < 3) text += `\n  cause: ${this.errorText(error.cause, depth + 1)}`;
    } else if (typeof error === "string") {
      text = error;
    } else {
      try {
        text = JSON.stringify(this.json(error)) ?? String(error);
      } catch {
        text = String(error);
      }
    }
    return this.string(text);
  }

  /**
   * What one reader gets of a job, an event or any answer: `payload`, `result`, `progress` and
   * `steps` as stored with `access.payloads`, else redacted; identifiers (`id`, `queue`, `name`
   * …) as they are; everything else redacted. Errors' stacks (a `stack` beside a `message`) only
   * with `access.stacks`, wherever they are (a catch step's payload is an error too).
   */
  forReader<T>(value: T, access: ReaderAccess): T {
    return this.#walk(value, 0, { redact: this.enabled, stacks: access.stacks, reader: access }) as T;
  }

  #walk(value: unknown, depth: number, walk: Walk): unknown {
    if (typeof value === "string") return walk.redact ? this.string(value) : value;
    if (typeof value !== "object" || value === null) return value;
    if (depth >= this.#maxDepth) return walk.redact ? this.replacement : value;
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return this.#walk(toJSON.call(value), depth, walk);
    if (Array.isArray(value)) {
      let copy: unknown[] | null = null;
      for (let i = 0; i < value.length; i++) {
        const next = this.#walk(value[i], depth + 1, walk);
        if (next !== value[i] && copy === null) copy = value.slice(0, i);
        if (copy !== null) copy.push(next);
      }
      return copy ?? value;
    }
    const record = value as Record<string, unknown>;
    const dropStack = !walk.stacks && typeof record.stack === "string" && typeof record.message === "string";
    const keys = Object.keys(record);
    let copy: Record<string, unknown> | null = null;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const item = record[key];
      const next = dropStack && key === "stack" ? OMIT : this.#member(key, item, depth + 1, walk);
      if (next !== item && copy === null) {
        copy = {};
        for (let j = 0; j < i; j++) put(copy, keys[j]!, record[keys[j]!]);
      }
      if (copy !== null && next !== OMIT) put(copy, key, next);
    }
    return copy ?? value;
  }

  #member(key: string, item: unknown, depth: number, walk: Walk): unknown {
    if (walk.redact && this.secretKey(key) && hidden(item)) return this.replacement;
    const reader = walk.reader;
    if (reader === null) return this.#walk(item, depth, walk);
    if (DATA_KEYS.has(key)) {
      const asStored = reader.payloads || !walk.redact;
      // As stored and stacks allowed: nothing to change, nothing to walk.
      if (asStored && walk.stacks) return item;
      return this.#walk(item, depth, { redact: !asStored, stacks: walk.stacks, reader: null });
    }
    if (IDENTIFIER_KEYS.has(key) && typeof item === "string") return item;
    return this.#walk(item, depth, walk);
  }

  #custom(text: string, pattern: RegExp): string {
    let out = "";
    let at = 0;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      if (m[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      const [start, end] = m.indices?.groups?.secret ?? m.indices![0]!;
      out += text.slice(at, start) + this.replacement;
      at = end;
    }
    return at === 0 ? text : out + text.slice(at);
  }
}

/** Values under a secret key that are replaced: anything that can carry a secret (not null, booleans or ""). */
function hidden(value: unknown): boolean {
  return value !== null && value !== undefined && typeof value !== "boolean" && value !== "";
}

/** A redactor to call yourself: `createRedactor().string(line)`, `.json(value)`. */
export function createRedactor(options?: RedactionOptions): Redactor {
  return new Redactor(options);
}

/** The built-in rules, for what has no conveyor at hand (console lines of stores and the HTTP app's errors). */
export const DEFAULT_REDACTOR: Redactor = new Redactor();
