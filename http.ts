/**
 * Conveyor over HTTP: `createApp` (jobs, queues, schedules, health, OpenAPI; JWT scopes) and
 * `createBroadcastApp` (the Pusher protocol over WebSockets), as Hono apps to mount anywhere.
 * Needs the `hono` package.
 * @module
 */
export { type AppOptions, createApp } from "./src/http/app.ts";
export type { DashboardOptions } from "./src/dashboard/options.ts";
export type { AuthOptions, Caller } from "./src/http/auth.ts";
export type { HttpRateLimit } from "./src/http/rate-limit.ts";
export { HIDDEN_FIELDS, PAYLOAD_SCOPE, STACKS_SCOPE } from "./src/http/reader-access.ts";
export {
  ACTIONS,
  canSee,
  checkPermission,
  jobOwner,
  type JobOwner,
  ownerTag,
  parseScope,
  type PermissionCaller,
  type PermissionDecision,
  type PermissionResource,
  type RecordLimit,
} from "./src/http/permissions.ts";
export { type PermissionOptions, type PermissionRule } from "./src/http/permission-config.ts";
export { type BroadcastAppOptions, createBroadcastApp } from "./src/http/broadcast-app.ts";
export { type HealthDocument, healthText } from "./src/http/health-text.ts";
