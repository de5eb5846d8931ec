import type { Clock } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import { ConveyorError } from "../core/errors.ts";
import type { ConveyorEventData, ConveyorEventType } from "../core/events.ts";
import type { Job, JobCounts, JobState } from "../core/job.ts";
import type { AuditEntry, NewAuditEntry } from "../core/audit-entry.ts";
import type { EnqueueFlowRequest } from "../core/workflow.ts";
import type {
  AuditListRequest,
  AuditTrimRequest,
  CancelResult,
  ChangeRequest,
  ClaimRequest,
  ClaimResult,
  CleanRequest,
  EnqueueRequest,
  EnqueueResult,
  ExtendLeasesRequest,
  FinishRequest,
  FinishResult,
  JobRequest,
  ListRequest,
  LogRequest,
  PauseRequest,
  ProgressRequest,
  QueueStore,
  ReleaseRequest,
  RemoveResult,
  RetryResult,
  StalledRequest,
  StalledResult,
  StepRequest,
  StoreCapabilities,
  StoreEventListener,
  Subscription,
} from "../core/store-contract.ts";
import { type JournalEntry, MemoryStore } from "./memory/store.ts";
import { type KeyValueStorage, OwnerClaim } from "./unstorage-claim.ts";
import { WriteQueue } from "./unstorage-writes.ts";
import { sameRecord } from "./same-record.ts";
import { UnstorageAudit } from "./unstorage-audit.ts";
import type { AuditChanges } from "./memory/audit.ts";

export type { KeyValueStorage } from "./unstorage-claim.ts";

export interface UnstorageStoreOptions {
  storage: KeyValueStorage;
  /** First segment of every key. @default "conveyor" */
  prefix?: string;
  /** @default systemClock */
  clock?: Clock;
  /** How often this process renews its claim on the stored queues; another process is refused while the claim is fresh (3×). @default 5_000 */
  heartbeatMs?: number;
}

const encode = (part: string) => encodeURIComponent(part).replace(/\./g, "%2E");

/**
 * Jobs are stored as JSON text behind this mark. unstorage reads values back through `destr`,
 * which drops `"__proto__"` and `"constructor"` keys; in a payload they are the user's data, so
 * the text goes past destr untouched (it does not look like JSON) and `JSON.parse` reads it,
 * which keeps them as plain own properties. Jobs stored as objects by older versions still load.
 */
const JSON_TEXT = "json:";

const decodeJob = (value: unknown): Job => decodeValue(value) as Job;

/** Records (schedules) are kept the same way, for the same reason. */
const encodeValue = (value: unknown): string => JSON_TEXT + JSON.stringify(value);
const decodeValue = (value: unknown): unknown =>
  typeof value === "string" && value.startsWith(JSON_TEXT) ? JSON.parse(value.slice(JSON_TEXT.length)) : value;

/**
 * Queues of one process, persisted through any unstorage driver. Every transition runs in
 * memory (atomic within the process) and is written through to storage, in order, before the
 * call returns; `open` reads everything back after a restart. unstorage has no compare-and-set,
 * so the stored queues belong to one live process at a time: a second one is refused, and one
 * that finds its claim taken over refuses every change (see `OwnerClaim`).
 *
 * When storage refuses a write, the write is retried until it is stored (see `WriteQueue`):
 * the call that made the change, and every later one, resolves only once its change is stored,
 * so a resolved call is always durable and no change is dropped or reordered. Meanwhile memory
 * is ahead of storage by exactly the changes of calls still waiting, and reads see them.
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
  readonly #claim: OwnerClaim;
  readonly #writes: WriteQueue;
  readonly #audit: UnstorageAudit;
  #closed = false;

  private constructor(options: UnstorageStoreOptions) {
    this.#storage = options.storage;
    this.#prefix = options.prefix ?? "conveyor";
    this.#clock = options.clock ?? systemClock;
    this.#heartbeatMs = options.heartbeatMs ?? 5_000;
    this.#claim = new OwnerClaim({
      storage: this.#storage,
      key: `${this.#prefix}:owner`,
      prefix: this.#prefix,
      clock: this.#clock,
      heartbeatMs: this.#heartbeatMs,
      // Changes still waiting to be written are not written over the new owner's.
      onLost: (error) => this.#writes.fail(error),
    });
    this.#writes = new WriteQueue({ clock: this.#clock, guard: () => this.#claim.ensure(), label: "UnstorageStore" });
    this.#audit = new UnstorageAudit(this.#storage, this.#prefix);
  }

  /** Claims the stored queues for this process and loads them. */
  static async open(options: UnstorageStoreOptions): Promise<UnstorageStore> {
    if (!options?.storage || typeof options.storage.getKeys !== "function") {
      throw new TypeError("UnstorageStore.open() needs { storage }: an unstorage Storage (createStorage({ driver }))");
    }
    const store = new UnstorageStore(options);
    await store.#claim.acquire();
    await store.#load();
    return store;
  }

  async enqueue(queue: string, request: EnqueueRequest): Promise<EnqueueResult[]> {
    for (const job of request.jobs) storable(job.payload, "payload");
    return await this.#write(() => this.#memory.enqueue(queue, request));
  }
  async enqueueFlow(request: EnqueueFlowRequest): Promise<Job[]> {
    for (const node of request.nodes) storable(node.job.payload, "payload");
    return await this.#write(() => this.#memory.enqueueFlow(request));
  }
  async claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    return await this.#write(() => this.#memory.claim(queue, request));
  }
  async finish(queue: string, request: FinishRequest): Promise<FinishResult> {
    for (const outcome of request.outcomes) if (outcome.kind === "completed") storable(outcome.result, "result");
    return await this.#write(() => this.#memory.finish(queue, request));
  }
  async extendLeases(queue: string, request: ExtendLeasesRequest): Promise<string[]> {
    return await this.#write(() => this.#memory.extendLeases(queue, request));
  }
  async release(queue: string, request: ReleaseRequest): Promise<boolean> {
    return await this.#write(() => this.#memory.release(queue, request));
  }
  async setProgress(queue: string, request: ProgressRequest): Promise<boolean> {
    storable(request.progress, "progress");
    return await this.#write(() => this.#memory.setProgress(queue, request));
  }
  async saveStep(queue: string, request: StepRequest): Promise<boolean> {
    storable(request.value, `step "${request.step}"`);
    return await this.#write(() => this.#memory.saveStep(queue, request));
  }
  async appendLog(queue: string, request: LogRequest): Promise<boolean> {
    return await this.#write(() => this.#memory.appendLog(queue, request));
  }
  async recoverStalled(queue: string, request: StalledRequest): Promise<StalledResult> {
    return await this.#write(() => this.#memory.recoverStalled(queue, request));
  }
  async cancel(queue: string, request: ChangeRequest): Promise<CancelResult> {
    return await this.#write(() => this.#memory.cancel(queue, request));
  }
  async retry(queue: string, request: ChangeRequest): Promise<RetryResult> {
    return await this.#write(() => this.#memory.retry(queue, request));
  }
  async remove(queue: string, request: JobRequest): Promise<RemoveResult> {
    return await this.#write(() => this.#memory.remove(queue, request));
  }
  async clean(queue: string, request: CleanRequest): Promise<number> {
    return await this.#write(() => this.#memory.clean(queue, request));
  }
  async setPaused(queue: string, request: PauseRequest): Promise<void> {
    return await this.#write(() => this.#memory.setPaused(queue, request));
  }

  // The audit log lives in memory like the jobs and is written through with them, in order.
  async appendAudit(entries: readonly NewAuditEntry[]): Promise<string[]> {
    return await this.#write(() => this.#memory.appendAudit(entries));
  }
  async trimAudit(request: AuditTrimRequest): Promise<number> {
    return await this.#write(() => this.#memory.trimAudit(request));
  }
  listAudit(request: AuditListRequest): Promise<AuditEntry[]> {
    return this.#memory.listAudit(request);
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
    this.#open();
    return decodeValue(await this.#storage.getItem(this.#recordKey(namespace, key)) ?? null) as T | null;
  }
  async putRecord(namespace: string, key: string, value: unknown): Promise<void> {
    await this.#recordWrite(() => this.#storage.setItem(this.#recordKey(namespace, key), encodeValue(value)));
  }
  async deleteRecord(namespace: string, key: string): Promise<boolean> {
    return await this.#recordWrite(async () => {
      const existed = await this.#storage.getItem(this.#recordKey(namespace, key)) !== null;
      await this.#storage.removeItem(this.#recordKey(namespace, key));
      return existed;
    });
  }
  async compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    return await this.#recordWrite(async () => {
      if (!sameRecord(decodeValue(await this.#storage.getItem(this.#recordKey(namespace, key))), expected)) return false;
      await this.#storage.setItem(this.#recordKey(namespace, key), encodeValue(value));
      return true;
    });
  }
  /** Record writes of this process, one at a time: no write lands between a compare and its set. */
  #recordWrites: Promise<unknown> = Promise.resolve();
  #recordWrite<T>(write: () => Promise<T>): Promise<T> {
    this.#open();
    const result = this.#recordWrites.then(() => this.#claim.ensure()).then(write);
    this.#recordWrites = result.catch(() => {});
    return result;
  }
  async listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]> {
    this.#open();
    const base = `${this.#prefix}_records:${encode(namespace)}:`;
    const keys = (await this.#storage.getKeys(base)).filter((key) => key.startsWith(base));
    const items = keys.length ? await this.#storage.getItems(keys) : [];
    return items.map(({ key, value }) => ({ key: decodeURIComponent(key.slice(base.length)), value: decodeValue(value) as T }))
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }

  publish(queue: string, event: ConveyorEventData): void {
    this.#memory.publish(queue, event);
  }
  subscribe(queue: string, listener: StoreEventListener, types?: readonly ConveyorEventType[]): Subscription {
    return this.#memory.subscribe(queue, listener, types);
  }

  /**
   * Stores what is still waiting (one last try each), then gives up this process's claim.
   * Rejects with STORE_CLOSED when storage refused some of it: those changes are lost, and the
   * calls that made them rejected too.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const unstored = await this.#writes.close();
    await this.#memory.close();
    await this.#claim.release();
    if (unstored > 0 && !this.#claim.lost) {
      throw new ConveyorError("STORE_CLOSED", `UnstorageStore closed with ${unstored} change(s) storage refused; they were not stored`);
    }
  }

  /** Every call after `close` rejects alike, on every store. */
  #open(): void {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This UnstorageStore is closed");
  }

  /** Runs a transition in memory, then queues what it changed; resolves once that is stored. */
  async #write<T>(transition: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This UnstorageStore is closed");
    // Checked before the change is made: a refused call leaves memory as it was.
    await this.#claim.ensure();
    const result = await transition();
    const changes = this.#memory.drainChanges();
    const audit = this.#memory.auditLog.drain();
    if (changes.length > 0 || audit) await this.#writes.push(this.#batch(changes, audit));
    // Another call's batch may hold this one's changes (it drained them first): wait for it too.
    else await this.#writes.settled();
    return result;
  }

  /** A transition's changes, encoded now: a retry writes this state, whatever memory holds by then. */
  #batch(entries: readonly JournalEntry[], audit: AuditChanges | null): () => Promise<void> {
    const writes = entries.map(({ queue, upserts, deletes, paused }) => ({
      upserts: upserts.map((job) => ({ key: this.#jobKey(queue, job.id), value: JSON_TEXT + JSON.stringify(job) })),
      deletes: deletes.map((id) => this.#jobKey(queue, id)),
      paused: paused === undefined ? undefined : { key: this.#queueKey(queue, "paused"), value: paused },
    }));
    const auditWrites = audit ? this.#audit.batch(audit) : null;
    return async () => {
      for (const { upserts, deletes, paused } of writes) {
        if (upserts.length > 0) await this.#storage.setItems(upserts);
        for (const key of deletes) await this.#storage.removeItem(key);
        if (paused) await this.#storage.setItem(paused.key, paused.value);
      }
      await auditWrites?.();
    };
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
      jobs.get(queue)!.push(decodeJob(value));
    }
    for (const queue of new Set([...jobs.keys(), ...paused.keys()])) {
      this.#memory.restore(queue, jobs.get(queue) ?? [], paused.get(queue) ?? false);
    }
    const audit = await this.#audit.load();
    this.#memory.auditLog.restore(audit.entries, audit.last);
  }

  #recordKey(namespace: string, key: string): string {
    // Beside the queues' keys, not under them, so no queue name can collide with it.
    return `${this.#prefix}_records:${encode(namespace)}:${encode(key)}`;
  }

  #queueKey(queue: string, name: string): string {
    return `${this.#prefix}:${encode(queue)}:${name}`;
  }

  #jobKey(queue: string, id: string): string {
    return `${this.#prefix}:${encode(queue)}:job:${encode(id)}`;
  }
}

/** unstorage keeps job data as JSON: what JSON cannot hold is refused before memory changes, not found when its write fails. */
function storable(value: unknown, what: string): void {
  try {
    JSON.stringify(value);
  } catch {
    // No cause: JSON.stringify's own message can quote the data's keys.
    throw new ConveyorError(
      "VALIDATION_FAILED",
      `Invalid ${what}: UnstorageStore stores job data as JSON, and this value cannot be written as JSON (a BigInt, a cycle, or a toJSON that throws)`,
      { issues: [{ path: "", message: "expected a value JSON.stringify can write" }] },
    );
  }
}
