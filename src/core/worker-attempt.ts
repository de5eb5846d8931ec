import type { Outcome as StoreOutcome } from "./store-contract.ts";
import { type BackoffFunction, backoffDelay } from "./backoff.ts";
import type { Clock } from "./clock.ts";
import type { JobDefinition, PayloadOutput } from "./define-job.ts";
import { ConveyorError, toErrorInfo, UnrecoverableError } from "./errors.ts";
import type { JobContext, RunningJob } from "./job-context.ts";
import type { Redactor } from "./redaction.ts";
import { jobDataError } from "./job-data.ts";
import { check } from "./validation.ts";

/** One attempt of one job, from payload check to the outcome the store is told. */

export type JobHandler<D extends JobDefinition> = (
  payload: PayloadOutput<D>,
  context: JobContext,
) => unknown;

export interface Registered {
  readonly definition: JobDefinition;
  readonly handler: JobHandler<JobDefinition>;
}

/** How an attempt ended, as the worker sees it. */
export type AttemptOutcome =
  | { readonly kind: "completed"; readonly value: unknown }
  | { readonly kind: "failed"; readonly error: unknown; readonly unrecoverable: boolean }
  /** The store has already moved the job on (cancelled, lease lost, released). */
  | { readonly kind: "dropped" };

/** What an attempt needs from its worker. */
export interface AttemptHost {
  /** The worker's id, read when needed (a worker names itself on first use). */
  workerId(): string;
  readonly clock: Clock;
  /** Takes the first outcome of the attempt; later ones are ignored. */
  settle(running: RunningJob, outcome: AttemptOutcome): void;
  abort(running: RunningJob, reason: ConveyorError): void;
}

const failed = (error: unknown): AttemptOutcome => ({ kind: "failed", error, unrecoverable: error instanceof UnrecoverableError });

/**
 * Runs the handler of a claimed job: the payload is checked against the definition's schema
 * first (a job stored by an older version may no longer fit), and the job's timeout aborts it.
 */
export function runAttempt(running: RunningJob, registered: Registered | undefined, host: AttemptHost): void {
  const { job } = running;
  if (!registered) {
    const error = new ConveyorError("UNKNOWN_JOB", `Worker ${host.workerId()} has no handler for job "${job.name}" in queue "${job.queue}"`);
    return host.settle(running, { kind: "failed", error, unrecoverable: false });
  }
  const parsed = check(registered.definition.schema, job.payload, "a job payload");
  if (!parsed.ok) {
    const issues = parsed.issues;
    const error = new ConveyorError(
      "VALIDATION_FAILED",
      `Payload of job ${job.id} ("${job.name}") no longer matches its schema: ${issues.map((i) => `${i.path || "(root)"} ${i.message}`).join("; ")}`,
      { issues },
    );
    return host.settle(running, { kind: "failed", error, unrecoverable: true });
  }
  if (job.timeoutMs !== null) {
    const timeoutMs = job.timeoutMs;
    running.timer = host.clock.setTimeout(() => {
      const error = new ConveyorError("JOB_TIMEOUT", `Job ${job.id} ("${job.name}") timed out after ${timeoutMs} ms`);
      host.abort(running, error);
      host.settle(running, { kind: "failed", error, unrecoverable: false });
    }, timeoutMs);
  }
  let result: unknown;
  try {
    result = registered.handler(parsed.value as PayloadOutput<JobDefinition>, running);
  } catch (error) {
    return host.settle(running, failed(error));
  }
  if (isPromiseLike(result)) {
    result.then((value) => host.settle(running, { kind: "completed", value }), (error) => host.settle(running, failed(error)));
  } else {
    host.settle(running, { kind: "completed", value: result });
  }
}

/**
 * The outcome as the store records it: a failure carries its retry time, or none when final, and
 * its error redacted (message and stack), as every copy of it (the job, its dead-letter info, the
 * failed event, a catch step's payload) starts here.
 */
export function storeOutcome(
  { job, token }: RunningJob,
  outcome: Exclude<AttemptOutcome, { kind: "dropped" }>,
  now: number,
  custom: BackoffFunction | undefined,
  redactor: Redactor,
): StoreOutcome {
  if (outcome.kind === "completed") {
    // A result no store could keep fails this attempt, rather than the store call for the whole batch.
    const unstorable = jobDataError(outcome.value, `result of job ${job.id} ("${job.name}")`);
    if (!unstorable) return { id: job.id, token, kind: "completed", result: outcome.value };
    outcome = { kind: "failed", error: unstorable, unrecoverable: false };
  }
  const attempt = job.attemptsMade + 1;
  const final = outcome.unrecoverable || attempt >= job.maxAttempts;
  return {
    id: job.id,
    token,
    kind: "failed",
    error: redactor.error(toErrorInfo(outcome.error)),
    retryAt: final ? null : now + backoffDelay(job.backoff, attempt, outcome.error, custom),
    reason: outcome.unrecoverable ? "unrecoverable" : "attempts-exhausted",
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}
