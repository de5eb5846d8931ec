import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ConveyorErrorCode, isConveyorError, type ValidationIssue } from "../core/errors.ts";
import { DEFAULT_REDACTOR } from "../core/redaction.ts";

/** Every error answer: `{ "error": { "code", "message", "issues" } }`. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly issues: readonly ValidationIssue[];
    /** On a 403: the action refused, on which queue, and the scopes any one of which would allow it. */
    readonly permission?: PermissionDenial;
  };
}

export interface PermissionDenial {
  readonly action: string;
  readonly queue: string | null;
  readonly missing: readonly string[];
}

/** An error meant for the client, with its status. */
export class HttpError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly issues: readonly ValidationIssue[];
  readonly headers: Record<string, string>;
  readonly permission: PermissionDenial | undefined;
  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { issues?: readonly ValidationIssue[]; headers?: Record<string, string>; permission?: PermissionDenial } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = options.issues ?? [];
    this.headers = options.headers ?? {};
    this.permission = options.permission;
  }
}

const STATUS_OF: Partial<Record<ConveyorErrorCode, ContentfulStatusCode>> = {
  VALIDATION_FAILED: 400,
  UNKNOWN_JOB: 400,
  JOB_NOT_FOUND: 404,
  INVALID_STATE: 409,
  QUEUE_CLOSED: 503,
  RATE_LIMITED: 429,
};

/** Turns anything thrown in a route into the error envelope; unexpected errors say nothing inside. */
export function errorResponse(error: unknown, c: Context): Response {
  if (error instanceof HttpError) {
    const answer = body(error.code, error.message, error.issues);
    const withPermission = error.permission ? { error: { ...answer.error, permission: error.permission } } : answer;
    return c.json(withPermission, error.status, error.headers);
  }
  if (isConveyorError(error)) {
    const status = STATUS_OF[error.code] ?? 500;
    return c.json(body(error.code, error.message, error.issues ?? []), status);
  }
  if (error instanceof HTTPException) {
    const code = error.status === 413 ? "PAYLOAD_TOO_LARGE" : error.status === 401 ? "UNAUTHENTICATED" : "HTTP_ERROR";
    return c.json(body(code, error.message || "Request refused"), error.status as ContentfulStatusCode);
  }
  console.error(`conveyor http: unexpected error: ${DEFAULT_REDACTOR.errorText(error)}`);
  return c.json(body("INTERNAL", "Something went wrong on the server"), 500);
}

/** The envelope, redacted: a message may quote what a store or a schema library said. */
export function body(code: string, message: string, issues: readonly ValidationIssue[] = []): ErrorBody {
  return { error: { code, message: DEFAULT_REDACTOR.string(message), issues: DEFAULT_REDACTOR.json(issues) } };
}
