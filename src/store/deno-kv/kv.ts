/**
 * The part of a Deno KV database the store uses. `Deno.openKv()` returns one on Deno (and Deno
 * Deploy); `openKv()` from the `@deno/kv` package returns one on Node and Bun. Declared here so
 * the core needs neither Deno's types nor the npm package.
 */
export type KvKeyPart = string | number | bigint | boolean | Uint8Array;
export type KvKey = readonly KvKeyPart[];

export interface KvEntryMaybe<T> {
  readonly key: KvKey;
  readonly value: T | null;
  readonly versionstamp: string | null;
}

export interface KvEntry<T> {
  readonly key: KvKey;
  readonly value: T;
  readonly versionstamp: string;
}

export type KvListSelector =
  | { readonly prefix: KvKey }
  | { readonly prefix: KvKey; readonly start: KvKey }
  | { readonly prefix: KvKey; readonly end: KvKey }
  | { readonly start: KvKey; readonly end: KvKey };

export interface KvAtomicOperation {
  check(...checks: { key: KvKey; versionstamp: string | null }[]): this;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): this;
  delete(key: KvKey): this;
  /** Adds to a 64-bit unsigned counter, wrapping around (so adding 2^64 - 1 subtracts one). */
  sum(key: KvKey, n: bigint): this;
  commit(): Promise<{ ok: boolean }>;
}

export interface DenoKv {
  get<T = unknown>(key: KvKey): Promise<KvEntryMaybe<T>>;
  list<T = unknown>(selector: KvListSelector, options?: { limit?: number; reverse?: boolean }): AsyncIterable<KvEntry<T>>;
  atomic(): KvAtomicOperation;
  /** Change notifications (same process on a local SQLite file; every isolate on Deno Deploy). */
  watch?(keys: KvKey[]): ReadableStream<KvEntryMaybe<unknown>[]>;
}

/**
 * Limits of one atomic operation every backend allows: Deno (2.x, its SQLite and Deno Deploy)
 * allows 100 checks, the SQLite backend of @deno/kv (Node, Bun) 10. Commits are sized for 10,
 * except those of the hot path (claims, finishes), sized by `checksPerCommit`.
 */
export const KV_LIMITS = Object.freeze({ checks: 10, mutations: 1000 });

/** The most checks the newer backends take in one commit (what `checksPerCommit` tries). */
export const WIDE_CHECKS = 100;

/**
 * How many checks one commit of this database may hold: tried once with a commit of WIDE_CHECKS
 * checks on keys that do not exist (it writes nothing); a backend that refuses it gets KV_LIMITS.
 */
export async function checksPerCommit(kv: DenoKv, prefix: string): Promise<number> {
  try {
    const op = kv.atomic();
    for (let i = 0; i < WIDE_CHECKS; i++) op.check({ key: [prefix, "limits-probe", i], versionstamp: null });
    await op.commit();
    return WIDE_CHECKS;
  } catch {
    return KV_LIMITS.checks;
  }
}

export async function collect<T>(entries: AsyncIterable<KvEntry<T>>): Promise<KvEntry<T>[]> {
  const out: KvEntry<T>[] = [];
  for await (const entry of entries) out.push(entry);
  return out;
}

/** A KvU64 counter's value as a number (0 when absent; wrapped negatives read as 0). */
export function counterValue(value: unknown): number {
  const raw = (value as { value?: bigint } | null)?.value;
  if (typeof raw !== "bigint") return 0;
  return raw >= 1n << 63n ? 0 : Number(raw);
}

/** The `sum` operand that adds `n` (negative `n` wraps around to a subtraction). */
export function delta(n: number): bigint {
  return n >= 0 ? BigInt(n) : (1n << 64n) + BigInt(n);
}

/**
 * Waits `ms` of real time. Only for pacing retries against other writers (a busy SQLite lock, a
 * conflicting commit): what they wait for happens in real time whatever the store's clock says,
 * and on a fake clock the call would hang until the test moved time.
 */
export function realPause(ms: number): Promise<void> {
  return new Promise((resolve) => globalThis.setTimeout(resolve, ms));
}

/** SQLite's answer when another process holds the write lock: worth trying again shortly. */
const isBusy = (error: unknown) => /database is locked|SQLITE_BUSY/i.test(String((error as Error)?.message ?? error));

async function patiently<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!isBusy(error) || attempt >= 200) throw error;
      await realPause(1 + Math.random() * Math.min(20, attempt * 2));
    }
  }
}

/**
 * The same database, waiting out "database is locked": processes sharing one SQLite file take
 * turns at its write lock, and the SQLite backend reports a busy lock instead of waiting for it.
 */
export function patientKv(kv: DenoKv): DenoKv {
  return {
    get: (key) => patiently(() => kv.get(key)),
    list: <T>(selector: KvListSelector, options?: { limit?: number; reverse?: boolean }) => {
      const read = patiently(() => collect(kv.list<T>(selector, options)));
      return (async function* () {
        yield* await read;
      })();
    },
    atomic: () => {
      const op = kv.atomic();
      const wrapped: KvAtomicOperation = {
        check: (...checks) => (op.check(...checks), wrapped),
        set: (key, value, options) => (op.set(key, value, options), wrapped),
        delete: (key) => (op.delete(key), wrapped),
        sum: (key, n) => (op.sum(key, n), wrapped),
        commit: () => patiently(() => op.commit()),
      };
      return wrapped;
    },
    ...(kv.watch ? { watch: (keys: KvKey[]) => kv.watch!(keys) } : {}),
  };
}
