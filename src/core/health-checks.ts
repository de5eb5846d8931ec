import type { Clock } from "./clock.ts";
import { within } from "./health-deadline.ts";
import type { CheckResult, HealthCheck, HealthProbe, HealthProbing, HealthStatus } from "./health-types.ts";
import type { QueueStore } from "./store-contract.ts";

/** A check as the report runs it. */
export interface RegisteredCheck {
  readonly check: HealthCheck;
  readonly timeoutMs: number;
  readonly critical: boolean;
}

const STATUSES: readonly HealthStatus[] = ["ok", "degraded", "down"];

const messageOf = (error: unknown): string =>
  error instanceof Error ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}` : String(error);

/** A check's answer as a probe; anything else is a mistake in the check, reported as down. */
function probeOf(answer: unknown): HealthProbe {
  if (answer === undefined || answer === true) return { status: "ok" };
  if (answer === false) return { status: "down", message: "the check said false" };
  const probe = answer as HealthProbe;
  if (typeof probe === "object" && probe !== null && STATUSES.includes(probe.status)) return probe;
  return { status: "down", message: "the check answered neither a boolean nor { status: \"ok\" | \"degraded\" | \"down\" }" };
}

/**
 * Runs one check within its time limit (and within what is left of the report's): no answer in
 * time is down. An answer that came but took over half the limit is degraded: the dependency is
 * there and slow, which is worth seeing before it times out.
 */
export async function runCheck(clock: Clock, entry: RegisteredCheck, leftMs: number): Promise<CheckResult> {
  const limit = Math.max(0, Math.min(entry.timeoutMs, leftMs));
  const controller = new AbortController();
  const started = clock.now();
  const result = await within(clock, () => entry.check(controller.signal), limit, controller);
  const durationMs = clock.now() - started;
  const base = { durationMs, critical: entry.critical };
  if (!result.done) {
    const message = "timedOut" in result ? `no answer within ${limit} ms` : messageOf(result.error);
    return { ...base, status: "down", message };
  }
  const probe = probeOf(result.value);
  const slow = probe.status === "ok" && durationMs > entry.timeoutMs / 2;
  return {
    ...base,
    status: slow ? "degraded" : probe.status,
    message: slow ? `answered in ${durationMs} ms, over half its ${entry.timeoutMs} ms limit` : probe.message ?? null,
    ...(probe.details ? { details: probe.details } : {}),
  };
}

/** The store answers a cheap read (one record get): it is reachable and serving. */
export function storeReadCheck(store: QueueStore): HealthCheck {
  return async () => {
    await store.getRecord("health", "probe");
    return { status: "ok", message: "a record read answered" };
  };
}

/** The store's own probe, when it has one (RedisStore: the connection and a PING); else null. */
export function storeProbe(store: QueueStore): HealthCheck | null {
  const probing = store as QueueStore & Partial<HealthProbing>;
  if (typeof probing.health !== "function") return null;
  return (signal) => probing.health!(signal);
}
