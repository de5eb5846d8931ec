/**
 * Ready-made jobs: webhook delivery signed per Standard Webhooks (with `verifyWebhook` for
 * receivers) and an allow-listed command runner. Each is a definition and a handler:
 * `webhookJob(options).register(worker)`, then `queue.add(job.definition, payload)`.
 * @module
 */
export { type ReadyJob } from "./src/jobs/ready-job.ts";
export {
  WEBHOOK_DEFAULTS,
  webhookBackoff,
  type WebhookJob,
  webhookJob,
  type WebhookJobOptions,
  type ParsedWebhookPayload,
  type WebhookDefaults,
  type WebhookPayload,
  WebhookPayloadSchema,
  type WebhookResult,
} from "./src/jobs/webhook.ts";
export {
  DEFAULT_TOLERANCE_MS,
  generateWebhookSecret,
  type SignedHeaders,
  signWebhook,
  type VerifiedWebhook,
  verifyWebhook,
  type VerifyOptions,
} from "./src/jobs/signing.ts";
export { type AddressGuardOptions, isBlockedAddress, type Resolver } from "./src/jobs/address-guard.ts";
export { DeliveryError, RefusedError } from "./src/jobs/errors.ts";
export {
  COMMAND_DEFAULTS,
  type CommandDefaults,
  type CommandJob,
  commandJob,
  type CommandJobOptions,
  type CommandPayload,
  type CommandResult,
  type ParsedCommandPayload,
} from "./src/jobs/command.ts";
export type { ExitStatus, ProcessSpawner, SpawnedProcess, SpawnRequest } from "./src/jobs/spawner.ts";
