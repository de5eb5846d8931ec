import type { Clock, TimerHandle } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import { ConveyorError } from "../core/errors.ts";
import type { ConveyorEventData, ConveyorEventType } from "../core/events.ts";
import type { Job, JobCounts, JobState, NewJob } from "../core/job.ts";
import type {
  CancelResult,
  ClaimRequest,
  ClaimResult,
  EnqueueResult,
  FinishRequest,
  FinishResult,
  ListRequest,
  QueueStore,
  StalledResult,
  StoreCapabilities,
  StoreEventListener,
  Subscription,
} from "./contract.ts";
import { type JournalEntry, MemoryStore } from "./memory.ts";

/** The part of an unstorage `Storage` this store uses (any driver: fs, memory, KV bindings …). */
export interface KeyValueStorage {
  getItem(key: string): Promise<unknown>;
  setItem(key: string, value: unknown): Promise<void>;
  setItems(items: { key: string; value: unknown }[]): Promise<void>;
  getItems(keys: string[]): Promise<{ key: string; value: unknown }[]>;
  removeItem(key: string): Promise<void>;
  getKeys(base?: string): Promise<string[]>;
}

export interface UnstorageStoreOptions {
  storage: KeyValueStorage;
  /** First segment of every key. @default "conveyor" */
  prefix?: string;
  /** @default systemClock */
  clock?: Clock;
  /** How often this process renews its claim on the stored queues; another process is refused while the claim is fresh (3×). @default 5_000 */
  heartbeatMs?: number;
}

interface OwnerRecord {
  readonly id: string;
  readonly heartbeatAt: number;
}

const encode = (part: string) => encodeURIComponent(part).replace(/\./g, "%2E");

/**
 * Queues of one process, persisted through any unstorage driver. Every transition runs in
 * memory (atomic within the process) and is written through to storage, in order, before the
 * call returns; `open` reads everything back after a restart. unstorage has no compare-and-set,
 * so the stored queues belong to one live process at a time: a second one is refused.
 */
export class UnstorageStore implements QueueStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    sharedAcrossProcesses: false,
    durable: true,
    consistent: true,
  });

  readonly #memory = new MemoryStore({ journal: true });
  readonly #storage: KeyValueStorage;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #heartbeatMs: number;
  readonly #owner = crypto.randomUUID();
  #heartbeat: TimerHandle | undefined;
  #writes: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(options: UnstorageStoreOptions) {
    this.#storage = options.storage;
    this.#prefix = options.prefix ?? "conveyor";
    this.#clock = options.clock ?? systemClock;
    this.#heartbeatMs = options.heartbeatMs ?? 5_000;
  }

  /** Claims the stored queues for this process and loads them. */
  static async open(options: UnstorageStoreOptions): Promise<UnstorageStore> {
    if (!options?.storage || typeof options.storage.getKeys !== "function") {
      throw new TypeError("UnstorageStore.open() needs { storage }: an unstorage Storage (createStorage({ driver }))");
    }
    const store = new UnstorageStore(options);
    await store.#claimOwnership();
    await store.#load();
    return store;
  }

  async enqueue(queue: string, jobs: readonly NewJob[], now: number): Promise<EnqueueResult[]> {
    return await this.#write(this.#memory.enqueue(queue, jobs, now));
  }
  async claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    return await this.#write(this.#memory.claim(queue, request));
  }
  async finish(queue: string, request: FinishRequest): Promise<FinishResult> {
    return await this.#write(this.#memory.finish(queue, request));
  }
  async extendLeases(queue: string, leases: readonly { id: string; token: string }[], leaseMs: number, now: number): Promise<string[]> {
    return await this.#write(this.#memory.extendLeases(queue, leases, leaseMs, now));
  }
  async release(queue: string, id: string, token: string, now: number, runAt?: number): Promise<boolean> {
    return await this.#write(this.#memory.release(queue, id, token, now, runAt));
  }
  async setProgress(queue: string, id: string, token: string, progress: unknown, now: number): Promise<boolean> {
    return await this.#write(this.#memory.setProgress(queue, id, token, progress, now));
  }
  async appendLog(queue: string, id: string, token: string, line: string): Promise<boolean> {
    return await this.#write(this.#memory.appendLog(queue, id, token, line));
  }
  async recoverStalled(queue: string, now: number, maxStalls: number): Promise<StalledResult> {
    return await this.#write(this.#memory.recoverStalled(queue, now, maxStalls));
  }
  async cancel(queue: string, id: string, now: number, by?: string | null): Promise<CancelResult> {
    return await this.#write(this.#memory.cancel(queue, id, now, by));
  }
  async retry(queue: string, id: string, now: number, by?: string | null): Promise<Job | null> {
    return await this.#write(this.#memory.retry(queue, id, now, by));
  }
  async remove(queue: string, id: string, now: number): Promise<boolean> {
    return await this.#write(this.#memory.remove(queue, id, now));
  }
  async clean(queue: string, state: JobState, cutoff: number, limit: number): Promise<number> {
    return await this.#write(this.#memory.clean(queue, state, cutoff, limit));
  }
  async setPaused(queue: string, paused: boolean, now: number): Promise<void> {
    return await this.#write(this.#memory.setPaused(queue, paused, now));
  }

  get(queue: string, id: string): Promise<Job | null> {
    return this.#memory.get(queue, id);
  }
  list(queue: string, state: JobState, request: ListRequest): Promise<Job[]> {
    return this.#memory.list(queue, state, request);
  }
  counts(queue: string): Promise<JobCounts> {
    return this.#memory.counts(queue);
  }
  isPaused(queue: string): Promise<boolean> {
    return this.#memory.isPaused(queue);
  }
  // Records go straight to storage: this process owns it, so nothing needs keeping in step.
  async getRecord<T = unknown>(namespace: string, key: string): Promise<T | null> {
    return (await this.#storage.getItem(this.#recordKey(namespace, key)) ?? null) as T | null;
  }
  async putRecord(namespace: string, key: string, value: unknown): Promise<void> {
    await this.#storage.setItem(this.#recordKey(namespace, key), value);
  }
  async deleteRecord(namespace: string, key: string): Promise<boolean> {
    const existed = await this.#storage.getItem(this.#recordKey(namespace, key)) !== null;
    await this.#storage.removeItem(this.#recordKey(namespace, key));
    return existed;
  }
  async listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]> {
    const base = `${this.#prefix}_records:${encode(namespace)}:`;
    const keys = (await this.#storage.getKeys(base)).filter((key) => key.startsWith(base));
    const items = keys.length ? await this.#storage.getItems(keys) : [];
    return items.map(({ key, value }) => ({ key: decodeURIComponent(key.slice(base.length)), value: value as T }))
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }

  publish(queue: string, event: ConveyorEventData): void {
    this.#memory.publish(queue, event);
  }
  subscribe(queue: string, listener: StoreEventListener, types?: readonly ConveyorEventType[]): Subscription {
    return this.#memory.subscribe(queue, listener, types);
  }

  /** Waits for pending writes, then gives up this process's claim on the stored queues. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat !== undefined) this.#clock.clearTimeout(this.#heartbeat);
    await this.#writes;
    await this.#storage.removeItem(this.#ownerKey());
    await this.#memory.close();
  }

  /** Runs a transition, then writes what it changed; writes go out in transition order. */
  async #write<T>(transition: Promise<T>): Promise<T> {
    const result = await transition;
    const changes = this.#memory.drainChanges();
    if (changes.length > 0) {
      this.#writes = this.#writes.then(() => this.#persist(changes));
    }
    await this.#writes;
    return result;
  }

  async #persist(entries: readonly JournalEntry[]): Promise<void> {
    for (const { queue, upserts, deletes, paused } of entries) {
      if (upserts.length > 0) {
        await this.#storage.setItems(upserts.map((job) => ({ key: this.#jobKey(queue, job.id), value: job })));
      }
      for (const id of deletes) await this.#storage.removeItem(this.#jobKey(queue, id));
      if (paused !== undefined) await this.#storage.setItem(this.#queueKey(queue, "paused"), paused);
    }
  }

  async #claimOwnership(): Promise<void> {
    const owner = await this.#storage.getItem(this.#ownerKey()) as OwnerRecord | null;
    const now = this.#clock.now();
    if (owner && owner.id !== this.#owner && now - owner.heartbeatAt < 3 * this.#heartbeatMs) {
      throw new ConveyorError(
        "UNSAFE_SETUP",
        `The queues stored under "${this.#prefix}" are in use by another process (last seen ${now - owner.heartbeatAt} ms ago). ` +
          "UnstorageStore keeps the queues of one process, because unstorage cannot claim jobs atomically; " +
          "to share queues between processes use RedisStore or DenoKvStore.",
      );
    }
    await this.#beat();
  }

  async #beat(): Promise<void> {
    if (this.#closed) return;
    await this.#storage.setItem(this.#ownerKey(), { id: this.#owner, heartbeatAt: this.#clock.now() } satisfies OwnerRecord);
    this.#heartbeat = this.#clock.setTimeout(() => void this.#beat().catch(() => {}), this.#heartbeatMs);
  }

  async #load(): Promise<void> {
    const keys = (await this.#storage.getKeys(this.#prefix)).filter((key) => key.startsWith(`${this.#prefix}:`));
    const jobs = new Map<string, Job[]>();
    const paused = new Map<string, boolean>();
    const jobKeys = keys.filter((key) => key.split(":")[2] === "job");
    for (const key of keys) {
      const [, queue, kind] = key.split(":");
      if (queue && kind === "paused") paused.set(decodeURIComponent(queue), (await this.#storage.getItem(key)) === true);
    }
    for (const { key, value } of jobKeys.length ? await this.#storage.getItems(jobKeys) : []) {
      const queue = decodeURIComponent(key.split(":")[1]!);
      if (!jobs.has(queue)) jobs.set(queue, []);
      jobs.get(queue)!.push(value as Job);
    }
    for (const queue of new Set([...jobs.keys(), ...paused.keys()])) {
      this.#memory.restore(queue, jobs.get(queue) ?? [], paused.get(queue) ?? false);
    }
  }

  #recordKey(namespace: string, key: string): string {
    // Beside the queues' keys, not under them, so no queue name can collide with it.
    return `${this.#prefix}_records:${encode(namespace)}:${encode(key)}`;
  }

  #ownerKey(): string {
    return `${this.#prefix}:owner`;
  }

  #queueKey(queue: string, name: string): string {
    return `${this.#prefix}:${encode(queue)}:${name}`;
  }

  #jobKey(queue: string, id: string): string {
    return `${this.#prefix}:${encode(queue)}:job:${encode(id)}`;
  }
}
