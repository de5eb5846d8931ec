/**
 * Errors callers are expected to catch carry a stable `code`; wrong arguments stay
 * `TypeError`/`RangeError`. Messages name what was wrong and what was expected, and never
 * include payloads or secrets.
 */
export type ConveyorErrorCode =
  | "VALIDATION_FAILED"
  | "JOB_TIMEOUT"
  | "JOB_CANCELLED"
  | "JOB_FAILED"
  | "WAIT_TIMEOUT"
  | "UNKNOWN_JOB"
  | "JOB_NOT_FOUND"
  | "INVALID_STATE"
  | "WORKER_CLOSED"
  | "QUEUE_CLOSED"
  | "LEASE_LOST"
  | "STALLED"
  | "HANDLER_FAILED"
  | "UNSAFE_SETUP"
  | "STORE_CLOSED"
  | "STORE_CONFLICT"
  | "STORE_UNAVAILABLE"
  | "RATE_LIMITED"
  // Ready-made jobs (src/jobs): a webhook's address refused, its delivery failed (retried) or
  // rejected (4xx, not retried), a signature that does not verify; a command not on the
  // allow-list, exiting non-zero, overrunning its time; a job the runtime cannot run.
  | "WEBHOOK_REFUSED"
  | "WEBHOOK_FAILED"
  | "WEBHOOK_REJECTED"
  | "WEBHOOK_INVALID"
  | "COMMAND_REFUSED"
  | "COMMAND_FAILED"
  | "COMMAND_TIMEOUT"
  | "UNSUPPORTED_RUNTIME";

/** One problem found by schema validation, with the path to the offending value. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

export class ConveyorError extends Error {
  override readonly name = "ConveyorError";
  readonly code: ConveyorErrorCode;
  readonly issues: readonly ValidationIssue[] | undefined;

  constructor(
    code: ConveyorErrorCode,
    message: string,
    options: { cause?: unknown; issues?: readonly ValidationIssue[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues;
  }
}

export function isConveyorError(value: unknown, code?: ConveyorErrorCode): value is ConveyorError {
  return value instanceof ConveyorError && (code === undefined || value.code === code);
}

/** What the store keeps of an error: plain data that survives serialisation. */
export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
}

export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === "string" ? { code } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  return { name: "NonError", message: describeThrown(error) };
}

function describeThrown(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return `non-Error value thrown: ${JSON.stringify(value)}`;
  } catch {
    return `non-Error value thrown: ${String(value)}`;
  }
}

/** Thrown by a handler to fail its job for good: no retries, straight to the dead-letter store. */
export class UnrecoverableError extends Error {
  override readonly name = "UnrecoverableError";
}
