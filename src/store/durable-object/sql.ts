import type { AuditEntry } from "../../core/audit-entry.ts";
import type { Job } from "../../core/job.ts";
import type { AuditChanges } from "../memory/audit.ts";
import type { JournalEntry } from "../memory/queue-data.ts";
import { sameRecord } from "../same-record.ts";

/**
 * The part of a Durable Object's SQLite storage (`ctx.storage.sql`) the store uses, declared
 * here so nothing outside the Cloudflare adapter needs the Workers types.
 */
export interface SqlStorage {
  exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

/** Runs `body` as one SQLite transaction (`ctx.storage.transactionSync`). */
export type TransactionSync = <T>(body: () => T) => T;

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS conveyor_jobs (queue TEXT NOT NULL, id TEXT NOT NULL, job TEXT NOT NULL, PRIMARY KEY (queue, id))",
  "CREATE TABLE IF NOT EXISTS conveyor_queues (queue TEXT PRIMARY KEY, paused INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS conveyor_records (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (namespace, key))",
  "CREATE TABLE IF NOT EXISTS conveyor_audit (cursor TEXT PRIMARY KEY, entry TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS conveyor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

/** What a Durable Object holds, read back when it starts. */
export interface StoredState {
  readonly queues: Map<string, { jobs: Job[]; paused: boolean }>;
  readonly audit: { entries: AuditEntry[]; last: string | null };
  readonly wakeAt: number | null;
}

/**
 * The Durable Object's tables. Jobs are whole JSON rows (the memory store's journal says which
 * changed), so a transition writes one row per job it touched, in one transaction with the rest
 * of its changes. Records are read and written here directly.
 */
export class SqlTables {
  readonly #sql: SqlStorage;
  readonly #transaction: TransactionSync;

  constructor(sql: SqlStorage, transaction: TransactionSync) {
    this.#sql = sql;
    this.#transaction = transaction;
    for (const statement of SCHEMA) sql.exec(statement);
  }

  load(): StoredState {
    const queues = new Map<string, { jobs: Job[]; paused: boolean }>();
    const queue = (name: string) => {
      let q = queues.get(name);
      if (!q) queues.set(name, q = { jobs: [], paused: false });
      return q;
    };
    for (const row of this.#sql.exec("SELECT queue, job FROM conveyor_jobs").toArray()) {
      queue(String(row.queue)).jobs.push(JSON.parse(String(row.job)) as Job);
    }
    for (const row of this.#sql.exec("SELECT queue, paused FROM conveyor_queues").toArray()) queue(String(row.queue)).paused = row.paused === 1;
    const entries = this.#sql.exec("SELECT entry FROM conveyor_audit ORDER BY cursor").toArray().map((row) => JSON.parse(String(row.entry)) as AuditEntry);
    const last = this.#meta("audit_last");
    const wakeAt = this.#meta("wake_at");
    return { queues, audit: { entries, last: last === null ? null : String(last) }, wakeAt: typeof wakeAt === "number" ? wakeAt : null };
  }

  /** One transition's changes, all or nothing. */
  write(entries: readonly JournalEntry[], audit: AuditChanges | null): void {
    this.#transaction(() => {
      for (const { queue, upserts, deletes, paused } of entries) {
        for (const job of upserts) this.#sql.exec("INSERT OR REPLACE INTO conveyor_jobs (queue, id, job) VALUES (?, ?, ?)", queue, job.id, JSON.stringify(job));
        for (const id of deletes) this.#sql.exec("DELETE FROM conveyor_jobs WHERE queue = ? AND id = ?", queue, id);
        if (paused !== undefined) this.#sql.exec("INSERT OR REPLACE INTO conveyor_queues (queue, paused) VALUES (?, ?)", queue, paused ? 1 : 0);
      }
      if (!audit) return;
      for (const entry of audit.appended) this.#sql.exec("INSERT OR REPLACE INTO conveyor_audit (cursor, entry) VALUES (?, ?)", entry.cursor, JSON.stringify(entry));
      for (const cursor of audit.removed) this.#sql.exec("DELETE FROM conveyor_audit WHERE cursor = ?", cursor);
      if (audit.last !== null) this.#setMeta("audit_last", audit.last);
    });
  }

  getRecord(namespace: string, key: string): unknown {
    const [row] = this.#sql.exec("SELECT value FROM conveyor_records WHERE namespace = ? AND key = ?", namespace, key).toArray();
    return row ? JSON.parse(String(row.value)) : null;
  }

  putRecord(namespace: string, key: string, value: unknown): void {
    this.#sql.exec("INSERT OR REPLACE INTO conveyor_records (namespace, key, value) VALUES (?, ?, ?)", namespace, key, JSON.stringify(value));
  }

  deleteRecord(namespace: string, key: string): boolean {
    const existed = this.getRecord(namespace, key) !== null;
    this.#sql.exec("DELETE FROM conveyor_records WHERE namespace = ? AND key = ?", namespace, key);
    return existed;
  }

  listRecords(namespace: string): { key: string; value: unknown }[] {
    // Sorted here, not by SQLite: the contract's key order is JavaScript's string order.
    return this.#sql.exec("SELECT key, value FROM conveyor_records WHERE namespace = ?", namespace).toArray()
      .map((row) => ({ key: String(row.key), value: JSON.parse(String(row.value)) as unknown }))
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }

  /** Nothing awaits between the read and the write: the object runs one call at a time through it. */
  compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): boolean {
    if (!sameRecord(this.getRecord(namespace, key), expected)) return false;
    this.putRecord(namespace, key, value);
    return true;
  }

  setWakeAt(at: number | null): void {
    if (at === null) this.#sql.exec("DELETE FROM conveyor_meta WHERE key = 'wake_at'");
    else this.#setMeta("wake_at", at);
  }

  #meta(key: string): unknown {
    const [row] = this.#sql.exec("SELECT value FROM conveyor_meta WHERE key = ?", key).toArray();
    return row ? JSON.parse(String(row.value)) : null;
  }

  #setMeta(key: string, value: unknown): void {
    this.#sql.exec("INSERT OR REPLACE INTO conveyor_meta (key, value) VALUES (?, ?)", key, JSON.stringify(value));
  }
}
