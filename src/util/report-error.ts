/**
 * Reports an error that must not break the caller (a throwing event listener, a failed
 * fire-and-forget publish): through the runtime's `reportError` where there is one.
 */
export function reportError(error: unknown, context: string): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (report) report(error);
  else console.error(`conveyor: ${context}:`, error);
}
