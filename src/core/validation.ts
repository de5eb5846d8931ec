import * as v from "valibot";
import { ConveyorError, type ValidationIssue } from "./errors.ts";
import type { StandardSchemaV1 } from "./standard-schema.ts";

/**
 * Turns valibot issues into path + message pairs that say what was expected, without echoing
 * the received value (it may be a secret).
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): ValidationIssue[] {
  return issues.map((issue) => {
    const path = v.getDotPath(issue) ?? "";
    // Custom and check messages are ours (they say what is expected); valibot's own messages quote the input.
    const expected = issue.type === "custom" || issue.type === "check" ? `expected ${issue.message}` : issue.expected ? `expected ${issue.expected}` : `failed the ${issue.type} check`;
    return { path, message: `${issue.kind === "schema" ? "wrong type" : issue.type}: ${expected}` };
  });
}

/** The first few issues in one line, for an error message. */
export function summarise(issues: readonly ValidationIssue[]): string {
  const shown = issues.slice(0, 3).map((i) => `${i.path || "(root)"} ${i.message}`).join("; ");
  return issues.length > 3 ? `${shown}; and ${issues.length - 3} more` : shown;
}

/** What a schema made of a value: its output, or the issues that say what was expected. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: ValidationIssue[] };

/**
 * Checks a value against any Standard Schema (valibot, zod, arktype…). valibot issues are
 * described by us; other libraries' messages are kept, with the received value taken out.
 * Validation must be synchronous: a job is checked where no await is possible (a scheduler
 * tick plan, a worker's start).
 */
export function check<S extends StandardSchemaV1>(schema: S, value: unknown, what: string): Checked<StandardSchemaV1.InferOutput<S>> {
  // valibot's "~standard" is a getter that builds an object on every read: tell its schemas by
  // their own shape instead, on this per-job path.
  if (isValibot(schema)) {
    const result = v.safeParse(schema as unknown as v.GenericSchema, value);
    return result.success ? { ok: true, value: result.output } : { ok: false, issues: describeIssues(result.issues) };
  }
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) {
    result.catch(() => {});
    throw new TypeError(`The schema for ${what} validates asynchronously; Conveyor needs a synchronous schema`);
  }
  if (!result.issues) return { ok: true, value: result.value };
  return { ok: false, issues: result.issues.map((issue) => foreignIssue(issue, value)) };
}

function isValibot(schema: object): boolean {
  return (schema as { kind?: unknown }).kind === "schema" && typeof (schema as { "~run"?: unknown })["~run"] === "function";
}

/** Parses data (payloads, job options, request bodies); failure is a VALIDATION_FAILED error. */
export function parseData<S extends StandardSchemaV1>(schema: S, value: unknown, what: string): StandardSchemaV1.InferOutput<S> {
  const result = check(schema, value, what);
  if (result.ok) return result.value;
  throw new ConveyorError("VALIDATION_FAILED", `Invalid ${what}: ${summarise(result.issues)}`, { issues: result.issues });
}

function foreignIssue(issue: StandardSchemaV1.Issue, root: unknown): ValidationIssue {
  const keys = (issue.path ?? []).map((segment) => typeof segment === "object" ? segment.key : segment);
  let received: unknown = root;
  for (const key of keys) received = typeof received === "object" && received !== null ? (received as Record<PropertyKey, unknown>)[key] : undefined;
  let message = issue.message;
  // Libraries quote what they got ("must be 'a' (was 'hunter2')"); the value may be a secret.
  const quoted = typeof received === "string" || typeof received === "number" || typeof received === "bigint" ? String(received) : "";
  if (quoted.length >= 2) message = message.split(quoted).join("…");
  return { path: keys.map(String).join("."), message };
}

/** Parses a programmer's argument (worker or queue settings); failure is a TypeError. */
export function parseArgument<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  throw new TypeError(`Invalid ${what}: ${summarise(describeIssues(result.issues))}`);
}
