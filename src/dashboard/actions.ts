// The dashboard's actions: each form posts to `${base}/do/<path>`, and only the paths below map
// to calls of the app's routes (which check the caller's scopes themselves). Anything else is a 404.
import { seg } from "./api.ts";

export interface ApiStep {
  readonly method: "POST" | "PUT" | "DELETE";
  readonly path: string;
  readonly body?: unknown;
}

export interface ActionPlan {
  readonly steps: readonly ApiStep[];
  /** What the page says once it is done. */
  readonly done: string;
}

/** Jobs a bulk action takes at most, as the API's own bulk routes. */
export const MAX_BULK = 1_000;

/** The calls an action path (decoded segments after `/do`) makes; null for no such action. */
export function planAction(parts: readonly string[], ids: readonly string[], body: unknown = undefined): ActionPlan | null {
  const [kind, name, third, fourth, fifth] = parts;
  if (kind === "queues" && name !== undefined) {
    const q = `/queues/${seg(name)}`;
    if (parts.length === 3 && (third === "pause" || third === "resume")) return { steps: [{ method: "POST", path: `${q}/${third}` }], done: third === "pause" ? "Queue paused" : "Queue resumed" };
    if (parts.length === 4 && third === "dead" && fourth === "retry") return { steps: [{ method: "POST", path: `${q}/dead/retry`, body: {} }], done: "Dead jobs retried" };
    if (parts.length === 4 && third === "dead" && fourth === "purge") return { steps: [{ method: "DELETE", path: `${q}/dead` }], done: "Dead letters purged" };
    if (parts.length === 4 && third === "jobs" && (fourth === "bulk-retry" || fourth === "bulk-remove")) {
      if (ids.length === 0 || ids.length > MAX_BULK) return { steps: [], done: "No jobs selected" };
      const retry = fourth === "bulk-retry";
      return {
        steps: ids.map((id) => retry ? { method: "POST", path: `${q}/jobs/${seg(id)}/retry` } : { method: "DELETE", path: `${q}/jobs/${seg(id)}` }),
        done: `${ids.length} job${ids.length === 1 ? "" : "s"} ${retry ? "retried" : "removed"}`,
      };
    }
    if (parts.length === 5 && third === "jobs" && fourth !== undefined) {
      const job = `${q}/jobs/${seg(fourth)}`;
      if (fifth === "retry") return { steps: [{ method: "POST", path: `${job}/retry` }], done: `Job ${fourth} retried` };
      if (fifth === "cancel") return { steps: [{ method: "POST", path: `${job}/cancel` }], done: `Job ${fourth} cancelled` };
      if (fifth === "remove") return { steps: [{ method: "DELETE", path: job }], done: `Job ${fourth} removed` };
    }
    return null;
  }
  if (kind === "schedules" && name !== undefined && parts.length === 3 && third === "edit" && body !== undefined) {
    return { steps: [{ method: "PUT", path: `/schedules/${seg(name)}`, body }], done: `Schedule ${name} saved` };
  }
  if (kind === "schedules" && name !== undefined && parts.length === 3 && (third === "pause" || third === "resume" || third === "trigger")) {
    const done = third === "trigger" ? `Schedule ${name} ran` : `Schedule ${name} ${third}d`;
    return { steps: [{ method: "POST", path: `/schedules/${seg(name)}/${third}` }], done };
  }
  return null;
}
