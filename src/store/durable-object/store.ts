import type { AuditEntry, NewAuditEntry } from "../../core/audit-entry.ts";
import { type Clock, systemClock, type TimerHandle } from "../../core/clock.ts";
import { ConveyorError } from "../../core/errors.ts";
import { type ConveyorEventData, type ConveyorEventType, EVENT_TYPES } from "../../core/events.ts";
import type { Job, JobCounts, JobState } from "../../core/job.ts";
import type { EnqueueFlowRequest } from "../../core/workflow.ts";
import type {
  AuditListRequest, AuditTrimRequest, CancelResult, ChangeRequest, ClaimRequest, ClaimResult, CleanRequest, EnqueueRequest,
  EnqueueResult, ExtendLeasesRequest, FinishRequest, FinishResult, JobRequest, ListRequest, LogRequest, PauseRequest,
  ProgressRequest, QueueStore, ReleaseRequest, RemoveResult, RetryResult, StalledRequest, StalledResult, StepRequest,
  StoreCapabilities, StoreEventListener, Subscription,
} from "../../core/store-contract.ts";
import { reportError } from "../../util/report-error.ts";
import { LocalEvents } from "../kit/local-events.ts";
import type { StoreCall, StoreMethod, StoreReply, StoreStub } from "./protocol.ts";

/** A Durable Object namespace binding (`env.CONVEYOR`), as far as the store uses it. */
export interface StoreNamespace {
  idFromName(name: string): unknown;
  get(id: never): StoreStub;
}

export interface DurableObjectStoreOptions {
  /** The binding of the `ConveyorStoreObject` class (`env.CONVEYOR`); or give `stub`. */
  namespace?: StoreNamespace;
  /** Which object of the namespace holds these queues: one object per name (a shard). @default "conveyor" */
  name?: string;
  /** A stub of the object, instead of `namespace` and `name`. */
  stub?: StoreStub;
  /** How often subscribers ask the object for other Workers' events while nothing else is called. @default 500 */
  pollMs?: number;
  /** Times the polls. @default systemClock */
  clock?: Clock;
}

/**
 * Queues kept in a Cloudflare Durable Object (`ConveyorStoreObject`), from a Worker. Every
 * method is one RPC to the object, which runs the transition atomically against its SQLite
 * storage; the Worker runs the handlers (`ctx.waitUntil(conveyor.drain())`). Events of the
 * queues this store's subscribers watch come back with each call's answer and with polls.
 */
export class DurableObjectStore implements QueueStore {
  readonly capabilities: StoreCapabilities = Object.freeze({ sharedAcrossProcesses: true, durable: true, consistent: true });

  readonly #stub: StoreStub;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #events = new Map<string, { local: LocalEvents; types: Map<ConveyorEventType, number> }>();
  /** The last event sequence number delivered; null until a subscriber first asks. */
  #since: number | null = null;
  #poll: TimerHandle | undefined;
  #closed = false;

  constructor(options: DurableObjectStoreOptions) {
    if (options?.stub) this.#stub = options.stub;
    else if (options?.namespace) this.#stub = options.namespace.get(options.namespace.idFromName(options.name ?? "conveyor") as never);
    else throw new TypeError("DurableObjectStore needs { namespace } (the ConveyorStoreObject binding, env.CONVEYOR) or { stub }");
    this.#clock = options.clock ?? systemClock;
    this.#pollMs = options.pollMs ?? 500;
    if (!(this.#pollMs > 0)) throw new RangeError(`pollMs must be a positive number of milliseconds, got ${options.pollMs}`);
  }

  enqueue(queue: string, request: EnqueueRequest): Promise<EnqueueResult[]> {
    return this.#call("enqueue", queue, request);
  }
  enqueueFlow(request: EnqueueFlowRequest): Promise<Job[]> {
    return this.#call("enqueueFlow", request);
  }
  claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    return this.#call("claim", queue, request);
  }
  extendLeases(queue: string, request: ExtendLeasesRequest): Promise<string[]> {
    return this.#call("extendLeases", queue, request);
  }
  finish(queue: string, request: FinishRequest): Promise<FinishResult> {
    return this.#call("finish", queue, request);
  }
  release(queue: string, request: ReleaseRequest): Promise<boolean> {
    return this.#call("release", queue, request);
  }
  setProgress(queue: string, request: ProgressRequest): Promise<boolean> {
    return this.#call("setProgress", queue, request);
  }
  appendLog(queue: string, request: LogRequest): Promise<boolean> {
    return this.#call("appendLog", queue, request);
  }
  saveStep(queue: string, request: StepRequest): Promise<boolean> {
    return this.#call("saveStep", queue, request);
  }
  recoverStalled(queue: string, request: StalledRequest): Promise<StalledResult> {
    return this.#call("recoverStalled", queue, request);
  }
  cancel(queue: string, request: ChangeRequest): Promise<CancelResult> {
    return this.#call("cancel", queue, request);
  }
  retry(queue: string, request: ChangeRequest): Promise<RetryResult> {
    return this.#call("retry", queue, request);
  }
  remove(queue: string, request: JobRequest): Promise<RemoveResult> {
    return this.#call("remove", queue, request);
  }
  clean(queue: string, request: CleanRequest): Promise<number> {
    return this.#call("clean", queue, request);
  }
  get(queue: string, id: string): Promise<Job | null> {
    return this.#call("get", queue, id);
  }
  list(queue: string, state: JobState, request: ListRequest): Promise<Job[]> {
    return this.#call("list", queue, state, request);
  }
  counts(queue: string): Promise<JobCounts> {
    return this.#call("counts", queue);
  }
  setPaused(queue: string, request: PauseRequest): Promise<void> {
    return this.#call("setPaused", queue, request);
  }
  isPaused(queue: string): Promise<boolean> {
    return this.#call("isPaused", queue);
  }
  getRecord<T = unknown>(namespace: string, key: string): Promise<T | null> {
    return this.#call("getRecord", namespace, key);
  }
  putRecord(namespace: string, key: string, value: unknown): Promise<void> {
    return this.#call("putRecord", namespace, key, value);
  }
  deleteRecord(namespace: string, key: string): Promise<boolean> {
    return this.#call("deleteRecord", namespace, key);
  }
  listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]> {
    return this.#call("listRecords", namespace);
  }
  compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    return this.#call("compareAndSetRecord", namespace, key, expected, value);
  }
  appendAudit(entries: readonly NewAuditEntry[]): Promise<string[]> {
    return this.#call("appendAudit", entries);
  }
  listAudit(request: AuditListRequest): Promise<AuditEntry[]> {
    return this.#call("listAudit", request);
  }
  trimAudit(request: AuditTrimRequest): Promise<number> {
    return this.#call("trimAudit", request);
  }

  /**
   * Asks the object to wake the Worker (its alarm) at `at`, epoch ms, besides the times its jobs
   * call for: a schedule's next tick. `null` forgets an earlier ask.
   */
  wakeAt(at: number | null): Promise<void> {
    return this.#call("wakeAt", at);
  }

  publish(queue: string, event: ConveyorEventData): void {
    this.#call("publish", queue, event).catch((error) => reportError(error, "publishing an event to the Durable Object failed"));
  }

  subscribe(queue: string, listener: StoreEventListener, types: readonly ConveyorEventType[] = EVENT_TYPES): Subscription {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This DurableObjectStore is closed");
    let watched = this.#events.get(queue);
    if (!watched) this.#events.set(queue, watched = { local: new LocalEvents(), types: new Map() });
    const { local, types: counts } = watched;
    const subscription = local.subscribe(listener, types);
    for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1);
    // The first call that names the queue makes the object keep its events; from then on they come back.
    const ready = this.#call("poll").then(() => {});
    this.#schedulePoll();
    let open = true;
    return {
      ready,
      close: () => {
        if (!open) return;
        open = false;
        subscription.close();
        for (const type of types) counts.set(type, (counts.get(type) ?? 1) - 1);
        if (!local.listened) this.#events.delete(queue);
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll !== undefined) this.#clock.clearTimeout(this.#poll);
    this.#poll = undefined;
    for (const { local } of this.#events.values()) local.clear();
    this.#events.clear();
  }

  async #call<T>(method: StoreMethod, ...args: unknown[]): Promise<T> {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This DurableObjectStore is closed");
    const watch = this.#watch();
    const request: StoreCall = watch ? { method, args, since: this.#since ?? Number.MAX_SAFE_INTEGER, watch } : { method, args };
    const reply = await this.#stub.call(request);
    // Read field by field: over RPC the answer can be a proxy of the object's value.
    const { result, events, seq } = { result: reply.result, events: reply.events, seq: reply.seq };
    if (watch) this.#deliver(events, seq);
    return result as T;
  }

  #watch(): Record<string, ConveyorEventType[]> | undefined {
    if (this.#events.size === 0) return undefined;
    const watch: Record<string, ConveyorEventType[]> = {};
    for (const [queue, { types }] of this.#events) watch[queue] = [...types].filter(([, n]) => n > 0).map(([type]) => type);
    return watch;
  }

  #deliver(events: StoreReply["events"], seq: number): void {
    // A restarted object numbers from 0 again: read its new log from the start.
    if (this.#since === null || seq < this.#since) {
      this.#since = this.#since === null ? seq : 0;
      if (this.#since === seq) return;
    }
    for (const { seq: at, event } of events) {
      if (at <= this.#since) continue;
      this.#since = at;
      this.#events.get(event.queue)?.local.deliver([event]);
    }
  }

  #schedulePoll(): void {
    if (this.#poll !== undefined || this.#closed) return;
    this.#poll = this.#clock.setTimeout(() => {
      this.#poll = undefined;
      if (this.#closed || this.#events.size === 0) return;
      this.#call("poll").catch((error) => reportError(error, "polling the Durable Object for events failed")).finally(() => this.#schedulePoll());
    }, this.#pollMs);
  }
}
