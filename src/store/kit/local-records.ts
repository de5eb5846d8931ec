import { cloneData } from "../../core/clone.ts";
import { sameRecord } from "../same-record.ts";

/**
 * The record part of the store contract, in this process's memory: namespaced JSON records
 * with compare-and-set. Nothing awaits between a comparison and its write, so each call is
 * atomic within the process. Stores that keep records elsewhere implement the same methods.
 */
export class LocalRecords {
  readonly #records = new Map<string, Map<string, unknown>>();

  get<T = unknown>(namespace: string, key: string): T | null {
    const value = this.#records.get(namespace)?.get(key);
    return value === undefined ? null : cloneData(value) as T;
  }

  put(namespace: string, key: string, value: unknown): void {
    this.#namespace(namespace).set(key, cloneData(value));
  }

  delete(namespace: string, key: string): boolean {
    return this.#records.get(namespace)?.delete(key) ?? false;
  }

  /** Every record of a namespace, in key order. */
  list<T = unknown>(namespace: string): { key: string; value: T }[] {
    const records = [...this.#records.get(namespace) ?? []].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    return records.map(([key, value]) => ({ key, value: cloneData(value) as T }));
  }

  /** Writes `value` only if the record equals `expected` (`null`: only if there is none). */
  compareAndSet(namespace: string, key: string, expected: unknown, value: unknown): boolean {
    if (!sameRecord(this.#records.get(namespace)?.get(key) ?? null, expected)) return false;
    this.#namespace(namespace).set(key, cloneData(value));
    return true;
  }

  #namespace(namespace: string): Map<string, unknown> {
    let records = this.#records.get(namespace);
    if (!records) this.#records.set(namespace, records = new Map());
    return records;
  }
}
