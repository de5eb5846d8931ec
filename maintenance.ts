/**
 * Ready-made maintenance jobs over the store contract, so on every store: `cleanup` (retention by
 * age and count, the audit log, finished schedules), `queueReport` (JSON, CSV, HTML) and
 * `backup` / `restore` (gzip JSON lines over Web Streams: the way to move queues between stores).
 * Each has a `defineJob` definition and a `schedule…` call that runs it daily with a worker.
 * @module
 */
export { backup, BACKUP_DEFAULTS, type BackupOptions, type BackupResult } from "./src/jobs/backup.ts";
export { restore, RESTORE_DEFAULTS, type BackupSource, type RestoreOptions, type RestoreResult } from "./src/jobs/restore.ts";
export { BACKUP_FORMAT, BACKUP_VERSION, type BackupCounts, BackupFormatError } from "./src/jobs/backup-format.ts";
export { CLEANED_STATES, cleanup, CLEANUP_DEFAULTS, type CleanupResult, type CleanupRules, type FinishedState, type RetentionBound } from "./src/jobs/cleanup.ts";
export { cleanupHandler, cleanupJob, scheduleCleanup, type ScheduleCleanupOptions } from "./src/jobs/cleanup-job.ts";
export { type ErrorCount, queueReport, type QueueReport, type QueueReportFigures, REPORT_DEFAULTS, type ReportOptions, type SlowJob } from "./src/jobs/report.ts";
export { csvCell, deliverReport, escapeHtml, type RenderedReport, type ReportDelivery, type ReportFormat, renderReport, reportCsv, reportHtml } from "./src/jobs/report-render.ts";
export { reportHandler, type ReportHandlerOptions, reportJob, type ReportRequest, ReportRequestSchema, scheduleReport, type ScheduleReportOptions } from "./src/jobs/report-job.ts";
