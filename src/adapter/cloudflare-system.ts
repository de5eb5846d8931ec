// Cloudflare Workers: no processes, no name resolution. `commandJob` given this spawner refuses
// at definition (UNSUPPORTED_RUNTIME); the webhook job runs without a resolver, so it checks
// literal addresses and known names only (Cloudflare's egress does not reach private networks).
import type { ProcessSpawner } from "../jobs/spawner.ts";

export const WORKERS_PROCESS_REFUSAL = "Cloudflare Workers cannot start processes: run the command job on Node, Bun or Deno";

export function cloudflareSpawner(): ProcessSpawner {
  return {
    runtime: "cloudflare",
    unsupported: WORKERS_PROCESS_REFUSAL,
    env: () => undefined,
    spawn: () => {
      throw new TypeError(WORKERS_PROCESS_REFUSAL);
    },
  };
}
