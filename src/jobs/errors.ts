// Errors of the ready-made jobs. A retry can fix a ConveyorError (the worker retries it while
// attempts remain); a RefusedError it cannot, so it extends UnrecoverableError and the worker
// fails the job at once, with the same kind of stable `code`.
import { ConveyorError, type ConveyorErrorCode, UnrecoverableError } from "../core/errors.ts";

/** Fails its job without retries: a refused address or program, a 4xx answer, a bad setup. */
export class RefusedError extends UnrecoverableError {
  readonly code: ConveyorErrorCode;
  constructor(code: ConveyorErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** A delivery that may succeed later (5xx, 408, 429, a network error, a timeout); `retryAfterMs` from the answer's Retry-After. */
export class DeliveryError extends ConveyorError {
  readonly status: number | null;
  readonly retryAfterMs: number | null;
  constructor(message: string, options: { status?: number | null; retryAfterMs?: number | null; cause?: unknown } = {}) {
    super("WEBHOOK_FAILED", message, options.cause === undefined ? {} : { cause: options.cause });
    this.status = options.status ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}
