import type { HealthProbe } from "../../core/health-types.ts";
import type { CallGuard } from "./availability.ts";
import type { RedisClient } from "./connection.ts";

/** ioredis states with no way to Redis now: said at once, without waiting for a call to time out. */
const CUT_OFF = new Set(["reconnecting", "close", "end"]);

/**
 * A Redis client's health: down at once while it is reconnecting or closed; otherwise a PING
 * (which waits for a connection being made, within the guard's limit, and the report's).
 */
export async function probeRedis(client: RedisClient, guard: CallGuard): Promise<HealthProbe> {
  const connection = client.status ?? "unknown";
  if (CUT_OFF.has(connection)) return { status: "down", message: `Redis is unreachable (connection ${connection})`, details: { connection } };
  const started = Date.now(); // real time: a round trip's latency, whatever clock the app runs on
  await guard.run(client, () => client.call("PING"));
  const latencyMs = Date.now() - started;
  return { status: "ok", message: `PONG in ${latencyMs} ms`, details: { connection: client.status ?? connection, latencyMs } };
}
