import type { AuditEntry } from "../core/audit-entry.ts";
import type { AuditChanges } from "./memory/audit.ts";
import type { KeyValueStorage } from "./unstorage-claim.ts";
import type { WriteBatch } from "./unstorage-writes.ts";

/** Entries are JSON text behind this mark, past unstorage's `destr` (which drops `__proto__` keys a detail may hold). */
const JSON_TEXT = "json:";
const decode = (value: unknown): unknown => (typeof value === "string" && value.startsWith(JSON_TEXT) ? JSON.parse(value.slice(JSON_TEXT.length)) : null);

/**
 * The audit log of an UnstorageStore: the memory store's log, written through. One key per
 * entry under `<prefix>_audit:e:<cursor>` (beside the queues' keys, so no queue name collides
 * with it), and the greatest cursor ever given under `<prefix>_audit:last`, so a restart after
 * the log was trimmed empty still hands out greater cursors.
 */
export class UnstorageAudit {
  readonly #storage: KeyValueStorage;
  readonly #base: string;

  constructor(storage: KeyValueStorage, prefix: string) {
    this.#storage = storage;
    this.#base = `${prefix}_audit:`;
  }

  /** The writes for what the log changed, encoded now (a retry writes this, whatever memory holds by then). */
  batch(changes: AuditChanges): WriteBatch {
    const upserts = changes.appended.map((entry) => ({ key: this.#key(entry.cursor), value: JSON_TEXT + JSON.stringify(entry) }));
    const deletes = changes.removed.map((cursor) => this.#key(cursor));
    const last = changes.last;
    return async () => {
      if (upserts.length > 0) await this.#storage.setItems(upserts);
      if (last !== null) await this.#storage.setItem(`${this.#base}last`, JSON_TEXT + JSON.stringify(last));
      for (const key of deletes) await this.#storage.removeItem(key);
    };
  }

  /** Everything stored, for the memory log to restore. */
  async load(): Promise<{ entries: AuditEntry[]; last: string | null }> {
    const prefix = `${this.#base}e:`;
    const keys = (await this.#storage.getKeys(prefix)).filter((key) => key.startsWith(prefix));
    const items = keys.length > 0 ? await this.#storage.getItems(keys) : [];
    const entries = items.map(({ value }) => decode(value) as AuditEntry);
    const last = decode(await this.#storage.getItem(`${this.#base}last`));
    return { entries, last: typeof last === "string" ? last : null };
  }

  #key(cursor: string): string {
    return `${this.#base}e:${cursor}`;
  }
}
