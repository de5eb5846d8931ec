/**
 * Conveyor: background jobs for Node, Bun, Deno and edge runtimes.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { createConveyor, defineJob } from "@conveyorkit/conveyor";
 *
 * const sendEmail = defineJob("send-email", v.object({ to: v.string() }), { attempts: 3 });
 * const conveyor = createConveyor();
 * conveyor.worker("emails", { concurrency: 10 }).handle(sendEmail, async ({ to }, ctx) => {
 *   await ctx.progress(50);
 * });
 * await conveyor.queue("emails").add(sendEmail, { to: "ada@example.com" }, { delayMs: 1_000 });
 * ```
 * @module
 */
export { Conveyor, type ConveyorOptions, createConveyor } from "./src/conveyor.ts";
export { defineJob, type JobDefinition, type PayloadInput, type PayloadOutput } from "./src/core/define-job.ts";
export { type BulkEntry, type EnqueuedJob, Queue } from "./src/core/queue.ts";
export { type AttemptResult, type JobHandler, type OutcomeListener, Worker, WorkerErrorEvent } from "./src/core/worker.ts";
export { WORKER_DEFAULTS, type WorkerOptions, type WorkerOrder } from "./src/core/worker-options.ts";
export type { JobContext } from "./src/core/job-context.ts";
export { ChainBuilder, type ChainEntry, type StepOptions } from "./src/core/chain.ts";
export type { BatchEntry, BatchOptions, BatchProgress, FlowJob, FlowJobOptions, FlowSpec } from "./src/core/flow.ts";
export {
  type ChainRest,
  type ChainStep,
  type ChildFailurePolicy,
  type ChildOutcome,
  type EnqueueFlowRequest,
  type Family,
  type FlowNode,
  type JobFlow,
  type JobRef,
  MAX_CHAIN_STEPS,
  MAX_FLOW_DEPTH,
  MAX_FLOW_JOBS,
  type ParentLink,
  type PreviousStep,
} from "./src/core/workflow.ts";
export { aftermath, type Effect, removalAftermath, settleChild } from "./src/core/workflow-rules.ts";
export { DEFAULT_RETENTION, type JobOptions, type JobSettings, type Retention } from "./src/core/job-options.ts";
export type { FinishedOptions } from "./src/core/job-outcome.ts";
export { isStandardSchema, type StandardSchemaV1 } from "./src/core/standard-schema.ts";
export { MAX_DATA_DEPTH } from "./src/core/job-data.ts";
export type { Backoff, BackoffFunction } from "./src/core/backoff.ts";
export { MAX_PRIORITY, PRIORITIES, type Priority, type PriorityName } from "./src/core/priority.ts";
export {
  type DeadLetterInfo,
  type Job,
  type JobCounts,
  type JobState,
  JOB_STATES,
  type Lease,
  type NewJob,
  type RetentionRule,
  type StoredBackoff,
} from "./src/core/job.ts";
export {
  ConveyorEvent,
  type ConveyorEventData,
  type ConveyorEventListener,
  type ConveyorEventType,
  EVENT_TYPES,
  type EventOf,
  QueueEvents,
} from "./src/core/events.ts";
export {
  ConveyorError,
  type ConveyorErrorCode,
  type ErrorInfo,
  isConveyorError,
  UnrecoverableError,
  type ValidationIssue,
} from "./src/core/errors.ts";
export {
  createRedactor,
  type ReaderAccess,
  REDACTION_DEFAULTS,
  type RedactionDefaults,
  type RedactionOptions,
  type RedactionRule,
  Redactor,
} from "./src/core/redaction.ts";
export { AuditLog } from "./src/core/audit.ts";
export { AUDIT_DEFAULTS, type AuditOptions } from "./src/core/audit-options.ts";
export {
  type AuditAction,
  type AuditActorType,
  type AuditEntry,
  type AuditOutcome,
  type AuditRecord,
  type AuditSink,
  LIFECYCLE_CATEGORIES,
  type LifecycleCategory,
  MAX_AUDIT_DETAIL_CHARS,
  type NewAuditEntry,
  OPERATOR_ACTIONS,
  type OperatorAction,
} from "./src/core/audit-entry.ts";
export { type AuditFilter, type AuditPage, type AuditQuery, MAX_AUDIT_SCAN } from "./src/core/audit-query.ts";
export {
  auditRange,
  type AuditRange,
  checkTrim,
  compareCursors,
  type CursorParts,
  formatCursor,
  nextCursor,
  parseCursor,
} from "./src/core/audit-cursor.ts";
export { type Clock, MAX_TIMER_DELAY_MS, systemClock, type TimerHandle } from "./src/core/clock.ts";
export { FakeClock, type FakeClockOptions } from "./src/core/fake-clock.ts";
export type {
  AuditListRequest,
  AuditTrimRequest,
  CancelResult,
  RemoveResult,
  RetryResult,
  ChangeRequest,
  ClaimRequest,
  ClaimResult,
  CleanRequest,
  EnqueueRequest,
  EnqueueResult,
  ExtendLeasesRequest,
  JobRequest,
  LeaseRef,
  LogRequest,
  PauseRequest,
  ProgressRequest,
  ReleaseRequest,
  StalledRequest,
  StepRequest,
  FinishRequest,
  FinishResult,
  Outcome,
  ListRequest,
  QueueStore,
  StalledResult,
  StoreCapabilities,
  StoreEventListener,
  Subscription,
} from "./src/core/store-contract.ts";
export { type JournalEntry, MemoryStore } from "./src/store/memory/store.ts";
export {
  type ScheduleInfo,
  Scheduler,
  type SchedulerHost,
  type SchedulerOptions,
  type ScheduleTarget,
  type JobTarget,
  type WorkflowTarget,
} from "./src/scheduler/scheduler.ts";
export type { CatchUpPolicy, OverlapPolicy, ScheduledWorkflow, ScheduleOptions, ScheduleRecord, ScheduleState } from "./src/scheduler/schedule-options.ts";
export {
  type JobLookup,
  type NamedBatch,
  type NamedBatchJob,
  type NamedChain,
  type NamedFlow,
  type NamedFlowOptions,
  type NamedStep,
  type NamedStepOptions,
  type ResolvedBatch,
  type ResolvedChain,
  type ResolvedFlow,
  resolveBatch,
  resolveChain,
  resolveFlow,
  type SpecContext,
  startBatch,
  startChain,
  startFlow,
  type StartOptions,
} from "./src/core/workflow-spec.ts";
export { daily, dailyAt, every, hourly, type Weekday, weekly, type When } from "./src/scheduler/timing.ts";
export { type RateLimitBackend, RateLimiter, type RateLimiterOptions, type RateLimitOutcome, type RateLimitRequest } from "./src/core/rate-limiter.ts";
export { MemoryRateLimitBackend } from "./src/core/rate-limit-memory.ts";
export type { RateLimitDecision, RateLimitRule } from "./src/core/rate-limit-rules.ts";
export type { WorkerRateLimit } from "./src/core/worker-options.ts";
export type { RuntimeAdapter, Served, ServeOptions } from "./src/adapter/contract.ts";
export { Health, type HealthHost, type HealthReport, type QueueHealth } from "./src/core/health.ts";
export {
  type CheckResult,
  HEALTH_DEFAULTS,
  type HealthCheck,
  type HealthCheckOptions,
  type HealthOptions,
  type HealthProbe,
  type HealthProbing,
  type HealthStatus,
} from "./src/core/health-types.ts";
export type { JobInForce, QueueInForce, RateLimitInForce, WorkerInForce } from "./src/core/health-config.ts";
export type { QueueFigures, StatsBucket } from "./src/core/health-buckets.ts";
export { StatsRecorder, type StatsRecorderOptions } from "./src/core/health-stats.ts";
