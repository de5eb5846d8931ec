import type { Context } from "hono";
import type { AuditLog } from "../core/audit.ts";
import type { AuditRecord } from "../core/audit-entry.ts";
import { isConveyorError } from "../core/errors.ts";
import { AUDITED_ROUTES, type AuditTarget } from "./audit-actions.ts";
import type { Caller } from "./auth.ts";
import { clientAddress, type TrustProxy } from "./client-key.ts";
import { HttpError } from "./errors.ts";
import { requestIdOf } from "./request-id.ts";
import type { Route } from "./route.ts";

/** No extra details: the target's are used as they are, not copied. */
const NONE: Record<string, unknown> = Object.freeze({});
const codeOf = (error: unknown) => (error instanceof HttpError || isConveyorError(error) ? error.code : "INTERNAL");
/**
 * What a handler throws that is no failed action: refusals (recorded as such, by the guard or the
 * error handler) and bad input (a payload failing its job's schema, an unknown job name), which
 * is refused before anything is done, like a body that fails the route's own schema.
 */
const notAnAction = (error: unknown) =>
  (error instanceof HttpError && (error.status === 400 || error.status === 401 || error.status === 403)) ||
  isConveyorError(error, "VALIDATION_FAILED") || isConveyorError(error, "UNKNOWN_JOB");

/**
 * The HTTP app's audit entries: each write route's action once its handler has run (ok, or
 * failed with the error's code), refused authentications (401, and the guessing throttle's
 * 429) and refused authorisations (403), each with the client's address (as `trustProxy` reads
 * it) and the request's id. Bad input (a body or payload that fails its schema, a body too
 * large) writes nothing: no action was taken or refused.
 */
export class HttpAuditTrail {
  readonly #audit: AuditLog;
  readonly #trustProxy: TrustProxy;
  /** Refused authorisations name the action and missing scopes (with `permissions` configured). */
  readonly #namePermission: boolean;

  constructor(audit: AuditLog, trustProxy: TrustProxy, namePermission = false) {
    this.#audit = audit;
    this.#trustProxy = trustProxy;
    this.#namePermission = namePermission;
  }

  /** A route that records its action around its handler. */
  wrap(route: Route): Route {
    const audited = AUDITED_ROUTES[`${route.method.toUpperCase()} ${route.path}`];
    if (!audited) return route;
    return {
      ...route,
      handle: async (input) => {
        const request = { params: input.params as Record<string, string>, body: input.body };
        let result: unknown;
        try {
          result = await route.handle(input);
        } catch (error) {
          if (!notAnAction(error)) this.#record(input.c, input.caller, audited.action, audited.target(request, null), "failed", { code: codeOf(error) });
          throw error;
        }
        this.#record(input.c, input.caller, audited.action, audited.target(request, result), "ok");
        return result;
      },
    };
  }

  /** A refused authentication: nobody known made it. */
  refused(c: Context, error: unknown): void {
    if (!(error instanceof HttpError) || (error.status !== 401 && error.status !== 429)) return;
    this.#record(c, null, "auth.refused", { queue: this.#queueOf(c), details: this.#where(c) }, "refused", {
      code: error.code,
      ...(error.status === 429 ? { throttled: true } : {}),
    });
  }

  /** A refused authorisation, from the app's error handler: the caller is known, the scope was not enough. */
  forbidden(c: Context, error: unknown): void {
    if (!(error instanceof HttpError) || error.status !== 403) return;
    this.#record(c, c.get("caller") as Caller | undefined ?? null, "auth.forbidden", { queue: this.#queueOf(c), details: this.#where(c) }, "refused", {
      code: error.code,
      ...(error.permission && this.#namePermission ? { action: error.permission.action, missing: error.permission.missing } : {}),
    });
  }

  #record(c: Context, caller: Caller | null, action: AuditRecord["action"], target: AuditTarget, outcome: AuditRecord["outcome"], extra: Record<string, unknown> = NONE): void {
    const subject = caller?.subject ?? null;
    const details = extra === NONE ? target.details ?? null : { ...target.details, ...extra };
    this.#audit.record({
      action,
      actor: subject ?? "anonymous",
      actorType: subject === null ? "anonymous" : "user",
      ip: clientAddress(c, this.#trustProxy),
      requestId: requestIdOf(c),
      queue: target.queue ?? null,
      jobId: target.jobId ?? null,
      scheduleId: target.scheduleId ?? null,
      outcome,
      details: details !== null && Object.keys(details).length > 0 ? details : null,
    });
  }

  #where(c: Context): Record<string, unknown> {
    return { method: c.req.method, path: c.req.path.slice(0, 200) };
  }

  #queueOf(c: Context): string | null {
    try {
      return c.req.param("queue") ?? null;
    } catch {
      return null; // no route matched far enough to have parameters
    }
  }
}

/**
 * The app's routes, each write route wrapped to record its entry when `trail` is given.
 * Every write route must be in AUDITED_ROUTES, audit on or not: a new one cannot be forgotten.
 */
export function auditedRoutes(routes: readonly Route[], trail: HttpAuditTrail | null): Route[] {
  for (const route of routes) {
    if (route.method !== "get" && !AUDITED_ROUTES[`${route.method.toUpperCase()} ${route.path}`]) {
      throw new Error(`conveyor http: the write route ${route.method.toUpperCase()} ${route.path} has no audit entry in AUDITED_ROUTES`);
    }
  }
  return trail ? routes.map((route) => trail.wrap(route)) : [...routes];
}
