import * as v from "valibot";
import { ConveyorError, type ValidationIssue } from "./errors.ts";

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

/** Parses data (payloads, job options, request bodies); failure is a VALIDATION_FAILED error. */
export function parseData<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issues = describeIssues(result.issues);
  throw new ConveyorError("VALIDATION_FAILED", `Invalid ${what}: ${summarise(issues)}`, { issues });
}

/** Parses a programmer's argument (worker or queue settings); failure is a TypeError. */
export function parseArgument<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  throw new TypeError(`Invalid ${what}: ${summarise(describeIssues(result.issues))}`);
}
