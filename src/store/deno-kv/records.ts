import { collect, type DenoKv } from "./kv.ts";
import { sameRecord } from "../same-record.ts";

/** The record part of the store contract: one KV entry per record under `[prefix, "records", namespace]`. */
export class KvRecords {
  readonly #kv: DenoKv;
  readonly #prefix: string;

  constructor(kv: DenoKv, prefix: string) {
    this.#kv = kv;
    this.#prefix = prefix;
  }

  async get<T>(namespace: string, key: string): Promise<T | null> {
    return (await this.#kv.get<T>(this.#key(namespace, key))).value;
  }

  async put(namespace: string, key: string, value: unknown): Promise<void> {
    await this.#kv.atomic().set(this.#key(namespace, key), value).commit();
  }

  async delete(namespace: string, key: string): Promise<boolean> {
    const existed = (await this.#kv.get(this.#key(namespace, key))).versionstamp !== null;
    await this.#kv.atomic().delete(this.#key(namespace, key)).commit();
    return existed;
  }

  /** Every record of a namespace, in key order (KV lists keys in order). */
  async list<T>(namespace: string): Promise<{ key: string; value: T }[]> {
    const entries = await collect(this.#kv.list<T>({ prefix: [this.#prefix, "records", namespace] }));
    return entries.map((entry) => ({ key: entry.key[3] as string, value: entry.value }));
  }

  async compareAndSet(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    const kvKey = this.#key(namespace, key);
    for (;;) {
      const entry = await this.#kv.get(kvKey);
      if (!sameRecord(entry.value, expected)) return false;
      // The versionstamp check makes the comparison and the write one step; a write in between
      // (same value or not) fails the commit, and the comparison is made again.
      if ((await this.#kv.atomic().check(entry).set(kvKey, value).commit()).ok) return true;
    }
  }

  #key(namespace: string, key: string): string[] {
    return [this.#prefix, "records", namespace, key];
  }
}
