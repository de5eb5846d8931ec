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
export { PAYLOAD_SCOPE, STACKS_SCOPE } from "./src/http/reader-access.ts";
export { type BroadcastAppOptions, createBroadcastApp } from "./src/http/broadcast-app.ts";
export { type HealthDocument, healthText } from "./src/http/health-text.ts";
