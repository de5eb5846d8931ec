// The broadcast backend as a health check: `conveyor.health.register("broadcast", broadcastCheck(broadcaster))`.
import type { HealthCheck } from "../core/health-types.ts";
import type { BroadcastBackend } from "./backend.ts";
import type { Broadcaster } from "./broadcaster.ts";

/**
 * A health check of a broadcaster's backend (or a backend): its own `health()` when it has one
 * (RedisBroadcastBackend: the connection and a PING); a backend without one is in this process
 * and always ok.
 */
export function broadcastCheck(target: Broadcaster | BroadcastBackend): HealthCheck {
  const backend = "backend" in target ? target.backend : target;
  return async () => {
    if (typeof backend.health !== "function") return { status: "ok", message: "in-process backend" };
    return await backend.health();
  };
}
