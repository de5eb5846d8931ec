/** What a health check or report says, best first: the report takes the worst of its checks. */
export type HealthStatus = "ok" | "degraded" | "down";

const RANK: Readonly<Record<HealthStatus, number>> = { ok: 0, degraded: 1, down: 2 };

export function worst(statuses: Iterable<HealthStatus>): HealthStatus {
  let found: HealthStatus = "ok";
  for (const status of statuses) if (RANK[status] > RANK[found]) found = status;
  return found;
}

/** A check's own answer. */
export interface HealthProbe {
  readonly status: HealthStatus;
  /** What was seen, for people ("PONG in 3 ms", "reconnecting"). Never a secret. */
  readonly message?: string;
  /** Figures a dashboard may want (latency, connection state), as plain JSON. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A store or backend that can say more than a read would (RedisStore: its connection state and a
 * PING). Optional on stores and broadcast backends: the report looks for it (check
 * `store.connection` for a store) and does without.
 */
export interface HealthProbing {
  /** The report gives up on it when `signal` aborts (its time is up). */
  health(signal?: AbortSignal): Promise<HealthProbe>;
}

/**
 * A dependency check: resolve to nothing or `true` for ok, `false` for down, or a probe; a
 * rejection is down with its message. `signal` aborts when the check's time is up.
 */
export type HealthCheck = (signal: AbortSignal) => HealthProbe | boolean | void | Promise<HealthProbe | boolean | void>;

export interface HealthCheckOptions {
  /** How long the check may take; past it, it counts as down. @default HEALTH_DEFAULTS.checkTimeoutMs */
  timeoutMs?: number;
  /** A critical check that is down makes the report down; another only degraded. @default true */
  critical?: boolean;
}

/** One check's result in a report. */
export interface CheckResult {
  readonly status: HealthStatus;
  readonly message: string | null;
  /** How long it took, on the conveyor's clock (the timeout, when it did not answer). */
  readonly durationMs: number;
  readonly critical: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface HealthOptions {
  /** Checks to run besides the built-in ones, by name (as `conveyor.health.register`). */
  checks?: Readonly<Record<string, HealthCheck | ({ check: HealthCheck } & HealthCheckOptions)>>;
  /** A check's time limit unless it sets its own. @default 1_000 */
  checkTimeoutMs?: number;
  /**
   * The most a report takes: checks, counts, figures and rate-limit reads that have not answered
   * by then are reported as such (a check as down). @default 1_500, so /health answers within 2 s
   */
  deadlineMs?: number;
  /**
   * How often each process writes its counts to the hourly buckets in the store; `false` keeps no
   * figures (no writes). @default 5_000
   */
  statsFlushMs?: number | false;
}

export const HEALTH_DEFAULTS = Object.freeze({
  checkTimeoutMs: 1_000,
  deadlineMs: 1_500,
  statsFlushMs: 5_000,
});
