import { DEFAULT_REDACTOR } from "../core/redaction.ts";

/**
 * Reports an error that must not break the caller (a throwing event listener, a failed
 * fire-and-forget publish, a lost connection). Logged, never rethrown: the runtimes'
 * `reportError` treats the error as uncaught, which ends the process on Deno and Bun. The line
 * is redacted with the built-in rules: these callers (stores, broadcasters) have no conveyor.
 */
export function reportError(error: unknown, context: string): void {
  console.error(`conveyor: ${DEFAULT_REDACTOR.string(context)}: ${DEFAULT_REDACTOR.errorText(error)}`);
}
