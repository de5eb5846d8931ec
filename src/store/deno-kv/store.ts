import { systemClock } from "../../core/clock.ts";
import { ConveyorError } from "../../core/errors.ts";
import type { ConveyorEventData, ConveyorEventType } from "../../core/events.ts";
import { FINISHED_STATES, type Job, type JobCounts, type JobState, withStep } from "../../core/job.ts";
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
import type { EnqueueFlowRequest } from "../../core/workflow.ts";
import { EventHub } from "./event-hub.ts";
import { type KvKey, patientKv } from "./kv.ts";
import * as machine from "../../core/transitions.ts";
import { KvQueueAccess } from "./access.ts";
import type { DenoKvStoreOptions } from "./options.ts";
import { KvRecords } from "./records.ts";
import { KvWorkflows } from "./workflow.ts";
import { KvAudit } from "./audit.ts";

export type { DenoKvStoreOptions } from "./options.ts";

/**
 * Queues in Deno KV, shared by any number of processes on one database (a SQLite file, or Deno
 * Deploy's). Every transition reads the jobs it touches and commits one atomic operation that
 * checks their versionstamps, so two workers can never both claim a job: the loser's commit
 * fails and it reads again. Events travel through a log in the same database, and the work
 * workflows leave for other jobs through an outbox there (see workflow.ts).
 */
export class DenoKvStore implements QueueStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    sharedAcrossProcesses: true,
    durable: true,
    consistent: true,
  });

  readonly #db: KvQueueAccess;
  readonly #records: KvRecords;
  readonly #flows: KvWorkflows;
  readonly #audit: KvAudit;
  #closed = false;

  constructor(options: DenoKvStoreOptions) {
    if (!options?.kv || typeof options.kv.atomic !== "function") {
      throw new TypeError("DenoKvStore needs { kv }: a Deno KV database (Deno.openKv() on Deno, openKv() from @deno/kv on Node and Bun)");
    }
    const kv = patientKv(options.kv);
    const clock = options.clock ?? systemClock;
    const hub = (nodeId: string) => new EventHub(kv, nodeId, { pollMs: options.pollMs ?? 100, watch: options.watch ?? false, clock });
    this.#db = new KvQueueAccess(kv, options.prefix ?? "conveyor", clock, hub, () => this.#open());
    this.#records = new KvRecords(this.#db.kv, this.#db.prefix);
    this.#flows = new KvWorkflows(this.#db);
    this.#audit = new KvAudit(this.#db.kv, this.#db.prefix);
  }

  async enqueue(queue: string, { jobs, now }: EnqueueRequest): Promise<EnqueueResult[]> {
    this.#open();
    const results = await this.#db.enqueue(queue, jobs, now);
    // An id given again may name a parent: its family is read back, as everywhere.
    const read = await this.#flows.expand(this.#db.queue(queue), results.map((result) => result.job));
    return results.map((result, i) => (result.job === read[i] ? result : { ...result, job: read[i]! }));
  }

  async enqueueFlow({ nodes, now }: EnqueueFlowRequest): Promise<Job[]> {
    this.#open();
    await this.#flows.opened();
    return await this.#flows.enqueueFlow(nodes, now);
  }

  async claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    this.#open();
    await this.#flows.opened();
    const keys = this.#db.queue(queue);
    await this.#db.promoteDue(keys, request.now);
    const jobs = (await this.#db.get<boolean>(keys.paused)).value ? [] : await this.#db.claimWaiting(keys, request, this.#flows.gate);
    return { jobs: await this.#flows.expand(keys, jobs), nextDueAt: await this.#db.nextDueAt(keys) };
  }

  async finish(queue: string, request: FinishRequest): Promise<FinishResult> {
    this.#open();
    const keys = this.#db.queue(queue);
    const { now } = request;
    const finished: (JobState | null)[] = new Array(request.outcomes.length).fill(null);
    const transitions: (machine.Transition | null)[] = new Array(request.outcomes.length).fill(null);
    const effects: KvKey[] = [];
    await this.#flows.opened();
    await this.#db.eachHeld(keys, now, request.outcomes, (tx, held, outcome, i) => {
      const transition = machine.recordOutcome(held.job, outcome, now);
      const next = machine.applied(held.job, transition, this.#db.nextSeq(now));
      this.#db.write(tx, keys, held, next);
      for (const event of transition.events) tx.emit(event);
      const set = FINISHED_STATES.has(next.state) ? this.#flows.record(tx, next, now) : [];
      return () => {
        finished[i] = transition.state;
        transitions[i] = transition;
        effects.push(...set);
      };
    });
    // In the order the outcomes were given, as every store applies them.
    for (const step of machine.retentionSteps(transitions)) {
      await this.#db.applyRetention(keys, step.state, step.rule, now, step.newer);
    }
    await this.#flows.drain(effects);
    const claim = request.claim;
    const claimedJobs = claim ? await this.claim(queue, { ...claim, now }) : undefined;
    return { finished, claimed: claimedJobs };
  }

  async extendLeases(queue: string, { leases, leaseMs, now }: ExtendLeasesRequest): Promise<string[]> {
    this.#open();
    const keys = this.#db.queue(queue);
    const held = new Set<string>();
    await this.#db.eachHeld(keys, now, leases, (tx, { job, versionstamp }) => {
      tx.put({ job, versionstamp }, { ...job, lease: { ...job.lease!, expiresAt: now + leaseMs } });
      return () => held.add(job.id);
    });
    return leases.filter((lease) => !held.has(lease.id)).map((lease) => lease.id);
  }

  async release(queue: string, { id, token, now, runAt = now }: ReleaseRequest): Promise<boolean> {
    this.#open();
    return await this.#db.updateHeld(queue, id, token, now, (job) => {
      const transition = machine.release(job, runAt, now);
      return { job: machine.applied(job, transition, this.#db.nextSeq(now)), events: transition.events };
    });
  }

  async setProgress(queue: string, { id, token, progress, now }: ProgressRequest): Promise<boolean> {
    this.#open();
    return await this.#db.updateHeld(queue, id, token, now, (job) => ({
      job: { ...job, progress },
      events: [{ type: "progress", queue, at: now, jobId: id, name: job.name, progress }],
    }));
  }

  async saveStep(queue: string, { id, token, step, value, now }: StepRequest): Promise<boolean> {
    this.#open();
    return await this.#db.updateHeld(queue, id, token, now, (job) => ({ job: { ...job, steps: withStep(job.steps, step, value) }, events: [] }));
  }

  async appendLog(queue: string, { id, token, line }: LogRequest): Promise<boolean> {
    this.#open();
    return await this.#db.updateHeld(queue, id, token, this.#db.clock.now(), (job) => ({ job: { ...job, logs: [...job.logs, line] }, events: [] }));
  }

  async recoverStalled(queue: string, { now, maxStalls }: StalledRequest): Promise<StalledResult> {
    this.#open();
    // Workers call this on a timer: it also finishes the workflow work of processes that died.
    await this.#flows.sweep();
    const keys = this.#db.queue(queue);
    const requeued: Job[] = [];
    const failed: Job[] = [];
    const active = await this.#db.jobsIn(keys, "active", 0, Infinity);
    const expired = active.filter(({ job }) => job.lease && job.lease.expiresAt <= now);
    for (const held of expired) {
      // One commit per job: a conflict means its worker renewed or finished it meanwhile.
      const tx = this.#db.tx(keys);
      const transition = machine.stall(held.job, maxStalls, now);
      const next = machine.applied(held.job, transition, this.#db.nextSeq(now));
      this.#db.write(tx, keys, held, next);
      for (const event of transition.events) tx.emit(event);
      const effects = transition.requeued ? [] : this.#flows.record(tx, next, now);
      if (!await this.#db.commit(tx, now)) continue;
      (transition.requeued ? requeued : failed).push(next);
      if (transition.retention) await this.#db.applyRetention(keys, transition.state, transition.retention, now);
      await this.#flows.drain(effects);
    }
    return { requeued: await this.#flows.expand(keys, requeued), failed: await this.#flows.expand(keys, failed) };
  }

  async cancel(queue: string, { id, now, by = null }: ChangeRequest): Promise<CancelResult> {
    this.#open();
    const keys = this.#db.queue(queue);
    let result: CancelResult = { status: "not-found" };
    let transition: machine.Transition | machine.Refusal = "not-found";
    let effects: KvKey[] = [];
    await this.#flows.opened();
    await this.#db.transact(queue, now, async (tx) => {
      effects = [];
      let held = await this.#db.read(keys, id);
      if (await this.#flows.flowWasOpen(keys, held?.job)) held = await this.#db.read(keys, id);
      if (!held) return result = { status: "not-found" };
      transition = machine.cancel(held.job, now, by);
      if (typeof transition === "string") return result = { status: "finished", state: held.job.state };
      const next = machine.applied(held.job, transition, held.job.seq);
      this.#db.write(tx, keys, held, next);
      for (const event of transition.events) tx.emit(event);
      effects = this.#flows.record(tx, next, now);
      result = { status: "cancelled", previous: held.job.state };
    });
    const done = transition as machine.Transition | machine.Refusal;
    if (typeof done !== "string" && done.retention) await this.#db.applyRetention(keys, done.state, done.retention, now);
    await this.#flows.drain(effects);
    return result;
  }

  async retry(queue: string, { id, now, by = null }: ChangeRequest): Promise<RetryResult> {
    this.#open();
    const keys = this.#db.queue(queue);
    let result: RetryResult = { status: "not-found" };
    await this.#db.transact(queue, now, async (tx) => {
      result = { status: "not-found" };
      const held = await this.#db.read(keys, id);
      if (!held) return;
      const dedupKey = held.job.dedupKey;
      // Another job may have taken the key while this one was finished: retrying would make two.
      const dedupTaken = dedupKey !== null && (await this.#db.get(keys.dedup(dedupKey))).versionstamp !== null;
      const transition = machine.retry(held.job, now, by, dedupTaken);
      if (transition === "dedup-taken") return result = { status: transition };
      if (typeof transition === "string") return result = { status: "not-retryable", state: held.job.state };
      if (dedupKey !== null) tx.check(keys.dedup(dedupKey), null).set(keys.dedup(dedupKey), id);
      const next = machine.applied(held.job, transition, this.#db.nextSeq(now));
      tx.put(held, next);
      for (const event of transition.events) tx.emit(event);
      result = { status: "retried", job: next };
    });
    const retried = result as RetryResult;
    return retried.status === "retried" ? { ...retried, job: (await this.#flows.expand(keys, [retried.job]))[0]! } : retried;
  }

  async remove(queue: string, { id, now }: JobRequest): Promise<RemoveResult> {
    this.#open();
    const keys = this.#db.queue(queue);
    let result: RemoveResult = { status: "not-found" };
    let effects: KvKey[] = [];
    await this.#flows.opened();
    await this.#db.transact(queue, now, async (tx) => {
      effects = [];
      let held = await this.#db.read(keys, id);
      if (await this.#flows.flowWasOpen(keys, held?.job)) held = await this.#db.read(keys, id);
      const event = held ? machine.remove(held.job, now) : "not-found";
      if (event === "not-found" || event === "active") return result = { status: event };
      if (typeof event === "string") return;
      this.#db.write(tx, keys, held!, null);
      tx.emit(event);
      effects = this.#flows.record(tx, held!.job, now, true);
      result = { status: "removed" };
    });
    await this.#flows.drain(effects);
    return result;
  }

  async clean(queue: string, { state, cutoff, limit }: CleanRequest): Promise<number> {
    this.#open();
    if (!FINISHED_STATES.has(state)) return 0;
    const keys = this.#db.queue(queue);
    // Index keys sort by finish time: everything before [.., cutoff + 1) finished at or before cutoff.
    const end = [...keys.index(state), cutoff + 1];
    return await this.#db.deleteIndexed(keys, { start: keys.index(state), end }, limit, this.#db.clock.now());
  }

  async get(queue: string, id: string): Promise<Job | null> {
    this.#open();
    const keys = this.#db.queue(queue);
    const held = await this.#db.read(keys, id);
    return held ? (await this.#flows.expand(keys, [held.job]))[0]! : null;
  }

  async list(queue: string, state: JobState, { offset, limit }: ListRequest): Promise<Job[]> {
    this.#open();
    const keys = this.#db.queue(queue);
    if (state === "active") {
      const active = (await this.#db.jobsIn(keys, "active", 0, Infinity)).map((held) => held.job);
      return await this.#flows.expand(keys, active.sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0)).slice(offset, offset + limit));
    }
    return await this.#flows.expand(keys, (await this.#db.jobsIn(keys, state, offset, limit, FINISHED_STATES.has(state))).map((held) => held.job));
  }

  async counts(queue: string): Promise<JobCounts> {
    this.#open();
    return await this.#db.counts(this.#db.queue(queue));
  }

  async setPaused(queue: string, { paused, now }: PauseRequest): Promise<void> {
    this.#open();
    const keys = this.#db.queue(queue);
    await this.#db.transact(queue, now, async (tx) => {
      const current = await this.#db.get<boolean>(keys.paused);
      if ((current.value === true) === paused) return;
      tx.check(keys.paused, current.versionstamp).set(keys.paused, paused);
      tx.emit({ type: paused ? "paused" : "resumed", queue, at: now });
    });
  }

  async isPaused(queue: string): Promise<boolean> {
    this.#open();
    return (await this.#db.get<boolean>(this.#db.queue(queue).paused)).value === true;
  }

  async getRecord<T = unknown>(namespace: string, key: string): Promise<T | null> {
    this.#open();
    return await this.#records.get<T>(namespace, key);
  }
  async putRecord(namespace: string, key: string, value: unknown): Promise<void> {
    this.#open();
    await this.#records.put(namespace, key, value);
  }
  async deleteRecord(namespace: string, key: string): Promise<boolean> {
    this.#open();
    return await this.#records.delete(namespace, key);
  }
  async listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]> {
    this.#open();
    return await this.#records.list<T>(namespace);
  }
  async compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    this.#open();
    return await this.#records.compareAndSet(namespace, key, expected, value);
  }

  async appendAudit(entries: readonly NewAuditEntry[]): Promise<string[]> {
    this.#open();
    return await this.#audit.append(entries);
  }
  async listAudit(request: AuditListRequest): Promise<AuditEntry[]> {
    this.#open();
    return await this.#audit.list(request);
  }
  async trimAudit(request: AuditTrimRequest): Promise<number> {
    this.#open();
    return await this.#audit.trim(request);
  }

  publish(queue: string, event: ConveyorEventData): void {
    const tx = this.#db.tx(this.#db.queue(queue)).emit(event);
    void this.#db.commit(tx, event.at).catch(() => {});
  }

  subscribe(queue: string, listener: StoreEventListener, types?: readonly ConveyorEventType[]): Subscription {
    return this.#db.hub.subscribe(this.#db.queue(queue), queue, listener, types);
  }

  /** Stops reading the event log. The database stays open: it belongs to whoever opened it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#db.hub.close();
  }

  #open(): void {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This DenoKvStore is closed");
  }
}

