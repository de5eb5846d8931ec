import { type ConveyorEventData, type ConveyorEventType, EVENT_TYPES } from "../../core/events.ts";
import type { Job, JobCounts, JobState } from "../../core/job.ts";
import type { EnqueueFlowRequest } from "../../core/workflow.ts";
import type { AuditEntry, NewAuditEntry } from "../../core/audit-entry.ts";
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
} from "../../core/store-contract.ts";
import { createdJob, decodeJob, encodeNewJob, finishArgs, flowArgs, flowJobs, NEW_JOB_WIDTH, type Snapshot, toJson, unpackClaimed } from "./codec.ts";
import { closeClient, connect, isClusterClient, type RedisClient } from "./connection.ts";
import { assertOneSlot, chainQueues, flowQueues } from "./cluster-slots.ts";
import { ConveyorError } from "../../core/errors.ts";
import { reportError } from "../../util/report-error.ts";
import { CallGuard } from "./availability.ts";
import type { HealthProbe } from "../../core/health-types.ts";
import { probeRedis } from "./health.ts";
import { parseArgument } from "../../core/validation.ts";
import { REDIS_STORE_DEFAULTS, type RedisStoreOptions, RedisStoreOptionsSchema } from "./options.ts";
import { QUEUE_KEYS, type QueueScripts, scriptsFor } from "./queue-scripts.ts";
import { RedisRecords } from "./records.ts";
import { RedisAudit } from "./audit.ts";
import { RedisEventChannels } from "./event-channels.ts";

export { type LeaseClock, REDIS_STORE_DEFAULTS, type RedisStoreOptions } from "./options.ts";

/**
 * Queues in Redis, shared by any number of worker processes. Every transition is one Lua script
 * (one round trip, atomic); events travel over pub/sub, one channel per queue and event type,
 * so a subscriber receives only the types it asked for.
 */
export class RedisStore implements QueueStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    sharedAcrossProcesses: true,
    durable: true,
    consistent: true,
  });

  readonly #prefix: string;
  readonly #slotTag: string;
  /** PUBLISH, or SPUBLISH on a Redis Cluster (its events go by sharded pub/sub). */
  readonly #publish: "PUBLISH" | "SPUBLISH";
  /** A Cluster client and no shared slot tag: every script must keep to one queue's slot. */
  readonly #oneSlotOnly: boolean;
  readonly #scripts: QueueScripts;
  readonly #guard: CallGuard;
  readonly #connection: Promise<{ client: RedisClient; owned: boolean }>;
  readonly #events: RedisEventChannels;
  readonly #records: RedisRecords;
  readonly #audit: RedisAudit;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    if (!options || options.connection === undefined) {
      throw new TypeError("RedisStore needs { connection }: an ioredis client, a redis:// URL, or an unstorage storage");
    }
    const { connection, ...rest } = options;
    const given = parseArgument(RedisStoreOptionsSchema, rest, "RedisStore options");
    this.#prefix = given.prefix ?? REDIS_STORE_DEFAULTS.prefix;
    this.#slotTag = given.slotTag ?? "";
    this.#oneSlotOnly = this.#slotTag === "" && isClusterClient(connection);
    this.#publish = isClusterClient(connection) ? "SPUBLISH" : "PUBLISH";
    this.#scripts = scriptsFor(given.leaseClock ?? REDIS_STORE_DEFAULTS.leaseClock, isClusterClient(connection), this.#slotTag);
    this.#guard = new CallGuard(given.callTimeoutMs ?? REDIS_STORE_DEFAULTS.callTimeoutMs, "Redis store");
    this.#connection = connect(connection);
    this.#connection.catch(() => {}); // surfaced by the first call instead
    this.#records = new RedisRecords(() => this.client(), this.#prefix);
    this.#audit = new RedisAudit(() => this.client(), this.#guard, this.#prefix);
    this.#events = new RedisEventChannels(() => this.client(), this.#guard, isClusterClient(connection));
  }

  /** The client the store runs its scripts on; after `close()`, a STORE_CLOSED error (every call goes through here). */
  async client(): Promise<RedisClient> {
    this.#assertOpen();
    return (await this.#connection).client;
  }

  async enqueue(queue: string, { jobs, now }: EnqueueRequest): Promise<EnqueueResult[]> {
    this.#assertOpen();
    if (jobs.length === 0) return [];
    if (this.#oneSlotOnly) for (const job of jobs) if (job.flow?.chain) assertOneSlot(chainQueues(queue, job), "A chain");
    const args: string[] = [String(NEW_JOB_WIDTH)];
    for (const job of jobs) args.push(...encodeNewJob(job));
    const rows = await this.#run<unknown[][]>("enqueue", queue, now, args);
    return rows.map((row, i) => {
      if (row[0] === 1) {
        return { job: createdJob(queue, jobs[i]!, String(row[1]), Number(row[2]), row[3] as JobState), created: true };
      }
      return { job: decodeJob(queue, row[1] as Snapshot), created: false };
    });
  }

  async enqueueFlow({ nodes, now }: EnqueueFlowRequest): Promise<Job[]> {
    this.#assertOpen();
    if (nodes.length === 0) return [];
    if (this.#oneSlotOnly) assertOneSlot(flowQueues(nodes), "A flow");
    return flowJobs(nodes, await this.#run<(string | number)[]>("enqueueFlow", nodes[0]!.queue, now, flowArgs(nodes)));
  }

  async claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    const reply = await this.#run<[string, string[]]>("claim", queue, request.now, [
      request.limit,
      request.leaseMs,
      request.workerId,
    ]);
    return this.#claimResult(queue, reply);
  }

  async finish(queue: string, request: FinishRequest): Promise<FinishResult> {
    const [states, claimed] = await this.#run<[string[], [string, string[]] | ""]>("finish", queue, request.now, finishArgs(request));
    return {
      finished: states.map((s) => (s === "" ? null : s as JobState)),
      claimed: claimed === "" ? undefined : this.#claimResult(queue, claimed),
    };
  }

  async extendLeases(queue: string, { leases, leaseMs, now }: ExtendLeasesRequest): Promise<string[]> {
    this.#assertOpen();
    if (leases.length === 0) return [];
    const args: (string | number)[] = [leaseMs];
    for (const { id, token } of leases) args.push(id, token);
    return await this.#run<string[]>("extendLeases", queue, now, args);
  }

  async release(queue: string, { id, token, now, runAt = now }: ReleaseRequest): Promise<boolean> {
    return (await this.#run<number>("release", queue, now, [id, token, String(runAt)])) === 1;
  }

  async setProgress(queue: string, { id, token, progress, now }: ProgressRequest): Promise<boolean> {
    return (await this.#run<number>("progress", queue, now, [id, token, JSON.stringify(progress ?? null)])) === 1;
  }

  async saveStep(queue: string, { id, token, step, value, now }: StepRequest): Promise<boolean> {
    return (await this.#run<number>("step", queue, now, [id, token, step, toJson(value)])) === 1;
  }

  async appendLog(queue: string, { id, token, line }: LogRequest): Promise<boolean> {
    return (await this.#run<number>("log", queue, 0, [id, token, line])) === 1;
  }

  async recoverStalled(queue: string, { now, maxStalls }: StalledRequest): Promise<StalledResult> {
    const [requeued, failed] = await this.#run<[Snapshot[], Snapshot[]]>("recoverStalled", queue, now, [maxStalls]);
    return {
      requeued: requeued.map((s) => decodeJob(queue, s)),
      failed: failed.map((s) => decodeJob(queue, s)),
    };
  }

  async cancel(queue: string, { id, now, by = null }: ChangeRequest): Promise<CancelResult> {
    const [status, state] = await this.#run<[string, string?]>("cancel", queue, now, [id, by ?? ""]);
    if (status === "cancelled") return { status, previous: state as JobState };
    if (status === "finished") return { status, state: state as JobState };
    return { status: "not-found" };
  }

  async retry(queue: string, { id, now, by = null }: ChangeRequest): Promise<RetryResult> {
    const [status, detail] = await this.#run<[string, (Snapshot | string)?]>("retry", queue, now, [id, by ?? ""]);
    if (status === "retried") return { status, job: decodeJob(queue, detail as Snapshot) };
    if (status === "not-retryable") return { status, state: detail as JobState };
    return { status: status as "not-found" | "dedup-taken" };
  }

  async remove(queue: string, { id, now }: JobRequest): Promise<RemoveResult> {
    return { status: await this.#run<RemoveResult["status"]>("remove", queue, now, [id]) };
  }

  async clean(queue: string, { state, cutoff, limit }: CleanRequest): Promise<number> {
    this.#assertOpen();
    if (state === "waiting" || state === "delayed" || state === "active") return 0;
    return await this.#run<number>("clean", queue, 0, [state, cutoff, Math.min(limit, 1_000_000_000)]);
  }

  async get(queue: string, id: string): Promise<Job | null> {
    const reply = await this.#run<Snapshot | "">("get", queue, 0, [id]);
    return reply === "" ? null : decodeJob(queue, reply);
  }

  async list(queue: string, state: JobState, { offset, limit }: ListRequest): Promise<Job[]> {
    const rows = await this.#run<Snapshot[]>("list", queue, 0, [state, offset, limit]);
    return rows.map((s) => decodeJob(queue, s));
  }

  async counts(queue: string): Promise<JobCounts> {
    const [waiting, delayed, active, completed, failed, dead, cancelled, paused, waitingChildren] = await this.#run<number[]>("counts", queue, 0, []);
    return {
      waiting: paused ? 0 : waiting!,
      paused: paused ? waiting! : 0,
      delayed: delayed!,
      active: active!,
      "waiting-children": waitingChildren!,
      completed: completed!,
      failed: failed!,
      dead: dead!,
      cancelled: cancelled!,
    };
  }

  async setPaused(queue: string, { paused, now }: PauseRequest): Promise<void> {
    await this.#run("setPaused", queue, now, [paused ? "1" : "0"]);
  }

  async isPaused(queue: string): Promise<boolean> {
    const client = await this.client();
    return (await this.#guard.run(client, () => client.call("HGET", this.#keyPrefix(queue) + "meta", "paused"))) === "1";
  }

  publish(queue: string, event: ConveyorEventData): void {
    if (this.#closed) return; // nobody is left to tell
    this.client()
      .then((client) => this.#guard.run(client, () => client.call(this.#publish, this.#channel(queue, event.type), JSON.stringify(event))))
      .catch((error) => reportError(error, "redis store: publish failed"));
  }

  subscribe(queue: string, listener: StoreEventListener, types: readonly ConveyorEventType[] = EVENT_TYPES): Subscription {
    return this.#events.subscribe(types.map((type) => this.#channel(queue, type)), listener);
  }

  getRecord<T = unknown>(namespace: string, key: string): Promise<T | null> {
    return this.#records.get<T>(namespace, key);
  }
  putRecord(namespace: string, key: string, value: unknown): Promise<void> {
    return this.#records.put(namespace, key, value);
  }
  deleteRecord(namespace: string, key: string): Promise<boolean> {
    return this.#records.delete(namespace, key);
  }
  listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]> {
    return this.#records.list<T>(namespace);
  }
  compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    return this.#records.compareAndSet(namespace, key, expected, value);
  }

  appendAudit(entries: readonly NewAuditEntry[]): Promise<string[]> {
    return this.#audit.append(entries);
  }
  listAudit(request: AuditListRequest): Promise<AuditEntry[]> {
    return this.#audit.list(request);
  }
  trimAudit(request: AuditTrimRequest): Promise<number> {
    return this.#audit.trim(request);
  }

  /** Not part of the store contract: health reports look for it (check `store.connection`). */
  async health(): Promise<HealthProbe> {
    return await probeRedis(await this.client(), this.#guard);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const { client, owned } = await this.#connection.catch(() => ({ client: undefined, owned: false }));
    await Promise.all([this.#events.close(), owned && client ? closeClient(client) : undefined]);
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This RedisStore is closed; make a new one to reach Redis again");
  }

  #claimResult(queue: string, [nextDue, packed]: [string, string[]]): ClaimResult {
    return {
      jobs: packed.map((text) => unpackClaimed(queue, text)),
      nextDueAt: nextDue === "" ? null : Number(nextDue),
    };
  }

  async #run<T>(script: keyof QueueScripts, queue: string, now: number, args: readonly (string | number)[]): Promise<T> {
    const client = await this.client();
    const prefix = this.#keyPrefix(queue);
    const keys = QUEUE_KEYS.map((key) => prefix + key);
    return await this.#guard.run(client, () => this.#scripts[script].run(client, keys, [prefix, queue, now, ...args])) as T;
  }

  #keyPrefix(queue: string): string {
    return this.#slotTag === "" ? `${this.#prefix}:{${queue}}:` : `${this.#prefix}:{${this.#slotTag}}:${queue}:`;
  }

  #channel(queue: string, type: ConveyorEventType): string {
    return `${this.#keyPrefix(queue)}events:${type}`;
  }
}
