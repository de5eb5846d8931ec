import type { RedisClient } from "./connection.ts";
import { LuaScript } from "./scripts.ts";
import { COMPARE_AND_SET_RECORD } from "./lua/records.ts";
import { recordText } from "../same-record.ts";

// Module level, not a static field: a class with a static initializer is not tree-shaken, and
// bundles that never use RedisStore (a Worker) would keep its lazy `import("ioredis")`.
const CAS_RECORD = /* @__PURE__ */ new LuaScript("compare-and-set-record", COMPARE_AND_SET_RECORD, "");

/** The record part of the store contract: one Redis hash per namespace, values as JSON text. */
export class RedisRecords {
  readonly #client: () => Promise<RedisClient>;
  readonly #prefix: string;

  constructor(client: () => Promise<RedisClient>, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  async get<T>(namespace: string, key: string): Promise<T | null> {
    const raw = await (await this.#client()).call("HGET", this.#key(namespace), key) as string | null;
    return raw === null ? null : JSON.parse(raw) as T;
  }

  async put(namespace: string, key: string, value: unknown): Promise<void> {
    await (await this.#client()).call("HSET", this.#key(namespace), key, JSON.stringify(value));
  }

  async delete(namespace: string, key: string): Promise<boolean> {
    return await (await this.#client()).call("HDEL", this.#key(namespace), key) === 1;
  }

  /** Every record of a namespace, in key order. */
  async list<T>(namespace: string): Promise<{ key: string; value: T }[]> {
    const flat = await (await this.#client()).call("HGETALL", this.#key(namespace)) as string[];
    const records: { key: string; value: T }[] = [];
    for (let i = 0; i < flat.length; i += 2) records.push({ key: flat[i]!, value: JSON.parse(flat[i + 1]!) as T });
    return records.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }

  async compareAndSet(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    const args = [key, recordText(expected), JSON.stringify(value)];
    return await CAS_RECORD.run(await this.#client(), [this.#key(namespace)], args) === 1;
  }

  #key(namespace: string): string {
    return `${this.#prefix}:records:{${namespace}}`;
  }
}
