import type { Clock, TimerHandle } from "./clock.ts";
import { type AuditEntry, type AuditRecord, type AuditSink, completeEntry, type NewAuditEntry, type Redact } from "./audit-entry.ts";
import { watchLifecycle } from "./audit-lifecycle.ts";
import { type ResolvedAuditOptions, resolveAuditOptions, type AuditOptions } from "./audit-options.ts";
import { type AuditFilter, type AuditPage, type AuditQuery, AuditQuerySchema, exportAudit, queryAudit } from "./audit-query.ts";
import type { QueueEvents } from "./events.ts";
import type { QueueStore } from "./store-contract.ts";
import { parseArgument } from "./validation.ts";

/**
 * The conveyor's audit log: entries are buffered and written to the store in batches (when
 * `batchSize` are waiting, `flushIntervalMs` after the first of them, and on `close`), kept by
 * age and count on a retention timer of their own, and read back newest first with filters and
 * cursors. Entries come from the HTTP app's operator actions, `cancel`/`retry` through the JS
 * API, the lifecycle categories turned on, and `record` for an application's own.
 *
 * The crash window: entries still in the buffer, or in a write the store has not answered, are
 * lost if the process dies. That is at most `batchSize` entries or `flushIntervalMs` of them
 * while the store answers, and up to `maxBufferedEntries` while it refuses writes (they are
 * retried on the flush timer). An entry is in the log once `flush()` has resolved after it.
 *
 * Without `audit` options the log records nothing, but still reads what other processes wrote.
 */
export class AuditLog implements AuditSink {
  /** What this log records and keeps, frozen; null when it records nothing. */
  readonly options: ResolvedAuditOptions | null;
  readonly #store: QueueStore;
  readonly #clock: Clock;
  readonly #redact: Redact | undefined;
  #buffer: NewAuditEntry[] = [];
  #flushTimer: TimerHandle | undefined;
  #retentionTimer: TimerHandle | undefined;
  /** Writes one after another, so entries reach the store in the order they were recorded. */
  #writing: Promise<void> = Promise.resolve();
  #failing = false;
  #dropped = 0;
  #closed = false;
  readonly #unwatch: (() => void)[] = [];

  /** `redact`: applied to each entry's details before it is buffered (the conveyor's redactor). */
  constructor(store: QueueStore, clock: Clock, options?: AuditOptions | boolean, redact?: Redact) {
    this.#store = store;
    this.#clock = clock;
    this.#redact = redact;
    this.options = resolveAuditOptions(options);
    const { maxAgeMs, maxEntries } = this.options ?? {};
    if (this.options && (maxAgeMs !== null || maxEntries !== null)) this.#armRetention();
  }

  /** Whether this log records anything. */
  get enabled(): boolean {
    return this.options !== null;
  }

  /** Entries dropped because the store refused writes for longer than the buffer holds. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records an operator action, or an application's own (nothing when the log or operator actions are off). */
  record(entry: AuditRecord): void {
    if (this.options?.operator) this.#add(entry);
  }

  /** @internal Records the lifecycle categories turned on from this queue's events. */
  watch(queue: { readonly events: QueueEvents }): void {
    const categories = this.options?.lifecycle ?? [];
    if (categories.length > 0 && !this.#closed) this.#unwatch.push(watchLifecycle(queue, categories, (entry) => this.#add(entry)));
  }

  /** Writes everything recorded so far; resolves once it is stored (rejects with the store's error). */
  flush(): Promise<void> {
    this.#clearFlushTimer();
    const run = this.#writing.then(() => this.#write());
    this.#writing = run.catch(() => {});
    return run;
  }

  /** A page of entries, newest first; flushes this process's buffer first, so its own entries are there. */
  async query(query: AuditQuery = {}): Promise<AuditPage> {
    const checked = parseArgument(AuditQuerySchema, query, "audit query");
    await this.flush();
    return await queryAudit(this.#store, checked);
  }

  /** Every matching entry, newest first, read a page at a time as the stream is consumed. */
  export(filter: AuditFilter = {}): ReadableStream<AuditEntry> {
    const { before: _b, after: _a, limit: _l, ...checked } = parseArgument(AuditQuerySchema, filter, "audit filter");
    return exportAudit(this.#store, checked, () => this.flush());
  }

  /** Applies retention now (the timer does this every `retentionIntervalMs`); returns how many entries went. */
  async applyRetention(): Promise<number> {
    if (!this.options) return 0;
    const { maxAgeMs, maxEntries } = this.options;
    return await this.#store.trimAudit({
      ...(maxAgeMs === null ? {} : { olderThan: this.#clock.now() - maxAgeMs }),
      ...(maxEntries === null ? {} : { keep: maxEntries }),
    });
  }

  /** Stops the timers and lifecycle listeners, then writes what is buffered (one last try). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const unwatch of this.#unwatch.splice(0)) unwatch();
    if (this.#retentionTimer !== undefined) this.#clock.clearTimeout(this.#retentionTimer);
    try {
      await this.flush();
    } catch (error) {
      console.error(`conveyor: the audit log closed with ${this.#buffer.length} entries the store refused; they are lost:`, error);
    }
  }

  #add(record: AuditRecord): void {
    if (this.#closed || !this.options) return;
    this.#buffer.push(completeEntry(record, this.#clock.now(), this.#redact));
    if (this.#buffer.length > this.options.maxBufferedEntries) {
      this.#buffer.shift();
      this.#dropped++;
    }
    if (this.#buffer.length >= this.options.batchSize && !this.#failing) this.#flushQuietly();
    else this.#flushTimer ??= this.#clock.setTimeout(() => this.#flushQuietly(), this.options.flushIntervalMs);
  }

  /** A flush nobody awaits: a refusal is reported (once per outage) and retried on the flush timer. */
  #flushQuietly(): void {
    this.flush().catch(() => {});
  }

  async #write(): Promise<void> {
    const batchSize = this.options?.batchSize ?? 100;
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, batchSize);
      try {
        await this.#store.appendAudit(batch);
        this.#failing = false;
      } catch (error) {
        // Kept, ahead of anything recorded since: the next try writes them in order.
        this.#buffer.unshift(...batch);
        if (!this.#failing) console.error(`conveyor: the audit log could not store ${this.#buffer.length} entries; retrying every ${this.options?.flushIntervalMs} ms:`, error);
        this.#failing = true;
        if (!this.#closed && this.options) this.#flushTimer ??= this.#clock.setTimeout(() => this.#flushQuietly(), this.options.flushIntervalMs);
        throw error;
      }
    }
  }

  #clearFlushTimer(): void {
    if (this.#flushTimer !== undefined) this.#clock.clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  #armRetention(): void {
    this.#retentionTimer = this.#clock.setTimeout(async () => {
      try {
        await this.applyRetention();
      } catch (error) {
        console.error("conveyor: audit retention failed; it runs again on its timer:", error);
      }
      if (!this.#closed) this.#armRetention();
    }, this.options!.retentionIntervalMs);
  }
}
