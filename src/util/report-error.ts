/**
 * Reports an error that must not break the caller (a throwing event listener, a failed
 * fire-and-forget publish, a lost connection). Logged, never rethrown: the runtimes'
 * `reportError` treats the error as uncaught, which ends the process on Deno and Bun.
 */
export function reportError(error: unknown, context: string): void {
  console.error(`conveyor: ${context}:`, error);
}
