import { type Clock, systemClock } from "../../core/clock.ts";
import { ConveyorError } from "../../core/errors.ts";
import type { ConveyorEventData, ConveyorEventType } from "../../core/events.ts";
import {
  FINISHED_STATES,
  initialJob,
  type Job,
  JOB_STATES,
  type JobCounts,
  type JobState,
  type NewJob,
  PENDING_STATES,
  type RetentionRule,
} from "../../core/job.ts";
import type {
  CancelResult,
  ClaimRequest,
  ClaimResult,
  EnqueueResult,
  FinishRequest,
  FinishResult,
  ListRequest,
  Outcome,
  QueueStore,
  RemoveResult,
  RetryResult,
  StalledResult,
  StoreCapabilities,
  StoreEventListener,
  Subscription,
} from "../contract.ts";
import { EventHub } from "./event-hub.ts";
import { QueueKeys, sameKey } from "./keys.ts";
import { collect, counterValue, type DenoKv, KV_LIMITS, patientKv, realPause } from "./kv.ts";
import * as machine from "../../core/transitions.ts";
import { Tx, type Versioned } from "./tx.ts";
import { sameRecord } from "../same-record.ts";

export interface DenoKvStoreOptions {
  /** `await Deno.openKv(path)` on Deno, or `await openKv(path)` from `@deno/kv` on Node and Bun. */
  kv: DenoKv;
  /** First part of every key. @default "conveyor" */
  prefix?: string;
  /** How often other processes' events (new jobs for workers among them) are read. @default 100 */
  pollMs?: number;
  /** Also follow the log with `kv.watch` (it sees other isolates on Deno Deploy, not other processes on SQLite). @default false */
  watch?: boolean;
  /**
   * Times the event-log polls, and stamps the few writes whose call passes no `now` (`appendLog`,
   * `clean`). Give it the conveyor's clock. Pauses after a conflict or a busy SQLite lock stay on
   * real time: they wait for other writers, which fake time cannot hurry. @default systemClock
   */
  clock?: Clock;
}

/** Commits retried this often after conflicting with other writers before the call fails. */
const MAX_CONFLICTS = 64;
/** Jobs moved per commit when each costs one check. */
const PER_COMMIT = KV_LIMITS.checks;

/**
 * Queues in Deno KV, shared by any number of processes on one database (a SQLite file, or Deno
 * Deploy's). Every transition reads the jobs it touches and commits one atomic operation that
 * checks their versionstamps, so two workers can never both claim a job: the loser's commit
 * fails and it reads again. Events travel through a log in the same database.
 */
export class DenoKvStore implements QueueStore {
  readonly capabilities: StoreCapabilities = Object.freeze({
    sharedAcrossProcesses: true,
    durable: true,
    consistent: true,
  });

  readonly #kv: DenoKv;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #nodeId = crypto.randomUUID();
  readonly #hub: EventHub;
  readonly #keys = new Map<string, QueueKeys>();
  /** Last seq handed out: a hybrid clock (ms × 1000, counting up within a millisecond). */
  #seq = 0;
  #closed = false;

  constructor(options: DenoKvStoreOptions) {
    if (!options?.kv || typeof options.kv.atomic !== "function") {
      throw new TypeError("DenoKvStore needs { kv }: a Deno KV database (Deno.openKv() on Deno, openKv() from @deno/kv on Node and Bun)");
    }
    this.#kv = patientKv(options.kv);
    this.#prefix = options.prefix ?? "conveyor";
    this.#clock = options.clock ?? systemClock;
    this.#hub = new EventHub(this.#kv, this.#nodeId, { pollMs: options.pollMs ?? 100, watch: options.watch ?? false, clock: this.#clock });
  }

  async enqueue(queue: string, jobs: readonly NewJob[], now: number): Promise<EnqueueResult[]> {
    this.#open();
    const results: EnqueueResult[] = [];
    // A commit holds 10 checks: a job costs one, two with a dedup key, and the id counter one.
    // A big batch commits slice by slice, in order.
    let slice: NewJob[] = [];
    let checks = 1;
    for (const job of jobs) {
      const cost = job.dedupKey === null ? 1 : 2;
      if (checks + cost > KV_LIMITS.checks) {
        results.push(...await this.#enqueueSlice(queue, slice, now));
        slice = [];
        checks = 1;
      }
      slice.push(job);
      checks += cost;
    }
    if (slice.length > 0) results.push(...await this.#enqueueSlice(queue, slice, now));
    return results;
  }

  async claim(queue: string, request: ClaimRequest): Promise<ClaimResult> {
    this.#open();
    const keys = this.#queue(queue);
    await this.#promoteDue(keys, queue, request.now);
    const jobs = (await this.#get<boolean>(keys.paused)).value ? [] : await this.#claimWaiting(keys, queue, request);
    return { jobs, nextDueAt: await this.#nextDueAt(keys) };
  }

  async finish(queue: string, request: FinishRequest): Promise<FinishResult> {
    this.#open();
    const keys = this.#queue(queue);
    const { now } = request;
    const finished: (JobState | null)[] = new Array(request.outcomes.length).fill(null);
    const transitions: (machine.Transition | null)[] = new Array(request.outcomes.length).fill(null);
    await this.#eachHeld(keys, queue, now, request.outcomes, (tx, held, outcome, i) => {
      const transition = machine.recordOutcome(held.job, outcome, now);
      this.#write(tx, keys, held, machine.applied(held.job, transition, this.#nextSeq(now)));
      for (const event of transition.events) tx.emit(event);
      return () => {
        finished[i] = transition.state;
        transitions[i] = transition;
      };
    });
    // In the order the outcomes were given, as every store applies them.
    for (const step of machine.retentionSteps(transitions)) {
      await this.#applyRetention(keys, queue, step.state, step.rule, now, step.newer);
    }
    const claim = request.claim;
    const claimedJobs = claim ? await this.claim(queue, { ...claim, now }) : undefined;
    return { finished, claimed: claimedJobs };
  }

  async extendLeases(queue: string, leases: readonly { id: string; token: string }[], leaseMs: number, now: number): Promise<string[]> {
    this.#open();
    const keys = this.#queue(queue);
    const held = new Set<string>();
    await this.#eachHeld(keys, queue, now, leases, (tx, { job, versionstamp }) => {
      tx.put({ job, versionstamp }, { ...job, lease: { ...job.lease!, expiresAt: now + leaseMs } });
      return () => held.add(job.id);
    });
    return leases.filter((lease) => !held.has(lease.id)).map((lease) => lease.id);
  }

  async release(queue: string, id: string, token: string, now: number, runAt = now): Promise<boolean> {
    this.#open();
    return await this.#updateHeld(queue, id, token, now, (job) => {
      const transition = machine.release(job, runAt, now);
      return { job: machine.applied(job, transition, this.#nextSeq(now)), events: transition.events };
    });
  }

  async setProgress(queue: string, id: string, token: string, progress: unknown, now: number): Promise<boolean> {
    this.#open();
    return await this.#updateHeld(queue, id, token, now, (job) => ({
      job: { ...job, progress },
      events: [{ type: "progress", queue, at: now, jobId: id, name: job.name, progress }],
    }));
  }

  async appendLog(queue: string, id: string, token: string, line: string): Promise<boolean> {
    this.#open();
    return await this.#updateHeld(queue, id, token, this.#clock.now(), (job) => ({ job: { ...job, logs: [...job.logs, line] }, events: [] }));
  }

  async recoverStalled(queue: string, now: number, maxStalls: number): Promise<StalledResult> {
    this.#open();
    const keys = this.#queue(queue);
    const requeued: Job[] = [];
    const failed: Job[] = [];
    const active = await this.#jobsIn(keys, "active", 0, Infinity);
    const expired = active.filter(({ job }) => job.lease && job.lease.expiresAt <= now);
    for (const held of expired) {
      // One commit per job: a conflict means its worker renewed or finished it meanwhile.
      const tx = new Tx(this.#kv, keys);
      const transition = machine.stall(held.job, maxStalls, now);
      const next = machine.applied(held.job, transition, this.#nextSeq(now));
      this.#write(tx, keys, held, next);
      for (const event of transition.events) tx.emit(event);
      if (!await this.#commit(tx, queue, now)) continue;
      (transition.requeued ? requeued : failed).push(next);
      if (transition.retention) await this.#applyRetention(keys, queue, transition.state, transition.retention, now);
    }
    return { requeued, failed };
  }

  async cancel(queue: string, id: string, now: number, by: string | null = null): Promise<CancelResult> {
    this.#open();
    const keys = this.#queue(queue);
    let result: CancelResult = { status: "not-found" };
    let transition: machine.Transition | machine.Refusal = "not-found";
    await this.#transact(queue, now, async (tx) => {
      const held = await this.#read(keys, id);
      if (!held) return result = { status: "not-found" };
      transition = machine.cancel(held.job, now, by);
      if (typeof transition === "string") return result = { status: "finished", state: held.job.state };
      this.#write(tx, keys, held, machine.applied(held.job, transition, held.job.seq));
      for (const event of transition.events) tx.emit(event);
      result = { status: "cancelled", previous: held.job.state };
    });
    const done = transition as machine.Transition | machine.Refusal;
    if (typeof done !== "string" && done.retention) await this.#applyRetention(keys, queue, done.state, done.retention, now);
    return result;
  }

  async retry(queue: string, id: string, now: number, by: string | null = null): Promise<RetryResult> {
    this.#open();
    const keys = this.#queue(queue);
    let result: RetryResult = { status: "not-found" };
    await this.#transact(queue, now, async (tx) => {
      result = { status: "not-found" };
      const held = await this.#read(keys, id);
      if (!held) return;
      const dedupKey = held.job.dedupKey;
      // Another job may have taken the key while this one was finished: retrying would make two.
      const dedupTaken = dedupKey !== null && (await this.#get(keys.dedup(dedupKey))).versionstamp !== null;
      const transition = machine.retry(held.job, now, by, dedupTaken);
      if (transition === "dedup-taken") return result = { status: transition };
      if (typeof transition === "string") return result = { status: "not-retryable", state: held.job.state };
      if (dedupKey !== null) tx.check(keys.dedup(dedupKey), null).set(keys.dedup(dedupKey), id);
      const next = machine.applied(held.job, transition, this.#nextSeq(now));
      tx.put(held, next);
      for (const event of transition.events) tx.emit(event);
      result = { status: "retried", job: next };
    });
    return result;
  }

  async remove(queue: string, id: string, now: number): Promise<RemoveResult> {
    this.#open();
    const keys = this.#queue(queue);
    let result: RemoveResult = { status: "not-found" };
    await this.#transact(queue, now, async (tx) => {
      const held = await this.#read(keys, id);
      const event = held ? machine.remove(held.job, now) : "not-found";
      if (event === "not-found" || event === "active") return result = { status: event };
      if (typeof event === "string") return;
      this.#write(tx, keys, held!, null);
      tx.emit(event);
      result = { status: "removed" };
    });
    return result;
  }

  async clean(queue: string, state: JobState, cutoff: number, limit: number): Promise<number> {
    this.#open();
    if (!FINISHED_STATES.has(state)) return 0;
    const keys = this.#queue(queue);
    // Index keys sort by finish time: everything before [.., cutoff + 1) finished at or before cutoff.
    const end = [...keys.index(state), cutoff + 1];
    return await this.#deleteIndexed(keys, queue, { start: keys.index(state), end }, limit, this.#clock.now());
  }

  async get(queue: string, id: string): Promise<Job | null> {
    this.#open();
    return (await this.#read(this.#queue(queue), id))?.job ?? null;
  }

  async list(queue: string, state: JobState, { offset, limit }: ListRequest): Promise<Job[]> {
    this.#open();
    const keys = this.#queue(queue);
    if (state === "active") {
      const active = (await this.#jobsIn(keys, "active", 0, Infinity)).map((held) => held.job);
      return active.sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0)).slice(offset, offset + limit);
    }
    return (await this.#jobsIn(keys, state, offset, limit, FINISHED_STATES.has(state))).map((held) => held.job);
  }

  async counts(queue: string): Promise<JobCounts> {
    this.#open();
    const keys = this.#queue(queue);
    const [paused, ...values] = await Promise.all([this.#get<boolean>(keys.paused), ...JOB_STATES.map((s) => this.#get(keys.count(s)))]);
    const counts = Object.fromEntries(JOB_STATES.map((state, i) => [state, counterValue(values[i]!.value)])) as Record<JobState, number>;
    const isPaused = paused.value === true;
    return { ...counts, waiting: isPaused ? 0 : counts.waiting, paused: isPaused ? counts.waiting : 0 };
  }

  async setPaused(queue: string, paused: boolean, now: number): Promise<void> {
    this.#open();
    const keys = this.#queue(queue);
    await this.#transact(queue, now, async (tx) => {
      const current = await this.#get<boolean>(keys.paused);
      if ((current.value === true) === paused) return;
      tx.check(keys.paused, current.versionstamp).set(keys.paused, paused);
      tx.emit({ type: paused ? "paused" : "resumed", queue, at: now });
    });
  }

  async isPaused(queue: string): Promise<boolean> {
    this.#open();
    return (await this.#get<boolean>(this.#queue(queue).paused)).value === true;
  }

  async getRecord<T = unknown>(namespace: string, key: string): Promise<T | null> {
    this.#open();
    return (await this.#kv.get<T>([this.#prefix, "records", namespace, key])).value;
  }

  async putRecord(namespace: string, key: string, value: unknown): Promise<void> {
    this.#open();
    await this.#kv.atomic().set([this.#prefix, "records", namespace, key], value).commit();
  }

  async deleteRecord(namespace: string, key: string): Promise<boolean> {
    this.#open();
    const existed = (await this.#kv.get([this.#prefix, "records", namespace, key])).versionstamp !== null;
    await this.#kv.atomic().delete([this.#prefix, "records", namespace, key]).commit();
    return existed;
  }

  async listRecords<T = unknown>(namespace: string): Promise<{ key: string; value: T }[]> {
    this.#open();
    const entries = await collect(this.#kv.list<T>({ prefix: [this.#prefix, "records", namespace] }));
    return entries.map((entry) => ({ key: entry.key[3] as string, value: entry.value }));
  }

  async compareAndSetRecord(namespace: string, key: string, expected: unknown, value: unknown): Promise<boolean> {
    this.#open();
    const kvKey = [this.#prefix, "records", namespace, key];
    for (;;) {
      const entry = await this.#kv.get(kvKey);
      if (!sameRecord(entry.value, expected)) return false;
      // The versionstamp check makes the comparison and the write one step; a write in between
      // (same value or not) fails the commit, and the comparison is made again.
      if ((await this.#kv.atomic().check(entry).set(kvKey, value).commit()).ok) return true;
    }
  }

  publish(queue: string, event: ConveyorEventData): void {
    const tx = new Tx(this.#kv, this.#queue(queue)).emit(event);
    void this.#commit(tx, queue, event.at).catch(() => {});
  }

  subscribe(queue: string, listener: StoreEventListener, types?: readonly ConveyorEventType[]): Subscription {
    return this.#hub.subscribe(this.#queue(queue), queue, listener, types);
  }

  /** Stops reading the event log. The database stays open: it belongs to whoever opened it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#hub.close();
  }

  #queue(name: string): QueueKeys {
    let keys = this.#keys.get(name);
    if (!keys) this.#keys.set(name, keys = new QueueKeys(this.#prefix, name));
    return keys;
  }

  #open(): void {
    if (this.#closed) throw new ConveyorError("STORE_CLOSED", "This DenoKvStore is closed");
  }

  #nextSeq(now: number): number {
    this.#seq = Math.max(this.#seq + 1, Math.floor(now) * 1_000);
    return this.#seq;
  }

  #get<T = unknown>(key: readonly unknown[]) {
    return this.#kv.get<T>(key as never);
  }

  async #read(keys: QueueKeys, id: string): Promise<Versioned | null> {
    const entry = await this.#get<Job>(keys.job(id));
    return entry.value === null ? null : { job: entry.value, versionstamp: entry.versionstamp! };
  }

  /** Writes a job's next form, releasing its dedup key when it leaves the pending states. */
  #write(tx: Tx, keys: QueueKeys, held: Versioned, next: Job | null): void {
    tx.put(held, next);
    const { dedupKey, state } = held.job;
    // The key exists exactly while a pending job holds it, so no read is needed to release it.
    if (dedupKey !== null && PENDING_STATES.has(state) && !(next && PENDING_STATES.has(next.state))) tx.delete(keys.dedup(dedupKey));
  }

  async #commit(tx: Tx, queue: string, now: number): Promise<boolean> {
    if (tx.empty) return true;
    const ok = await tx.commit(this.#nextSeq(now), this.#nodeId);
    if (ok) this.#hub.deliver(queue, tx.events);
    return ok;
  }

  /** Builds and commits one atomic operation, reading afresh after each conflict. */
  async #transact(queue: string, now: number, build: (tx: Tx) => Promise<unknown>): Promise<void> {
    this.#open();
    const keys = this.#queue(queue);
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const tx = new Tx(this.#kv, keys);
      await build(tx);
      if (await this.#commit(tx, queue, now)) return;
      await backoff(attempt);
    }
    throw new ConveyorError("STORE_CONFLICT", `Gave up on queue "${queue}" after ${MAX_CONFLICTS} conflicting commits`);
  }

  async #enqueueSlice(queue: string, jobs: readonly NewJob[], now: number): Promise<EnqueueResult[]> {
    const keys = this.#queue(queue);
    let results: EnqueueResult[] = [];
    await this.#transact(queue, now, async (tx) => {
      results = [];
      const counter = await this.#get<number>(keys.nextId);
      let nextId = counter.value ?? 0;
      const inBatch = new Map<string, Job>();
      for (const input of jobs) {
        const existing = await this.#existing(keys, input, inBatch);
        if (existing) {
          results.push({ job: existing, created: false });
          continue;
        }
        const id = input.id ?? String(++nextId);
        const seq = this.#nextSeq(now);
        const job = initialJob(input, id, queue, seq, input.runAt > now ? "delayed" : "waiting", input.payload);
        tx.put(null, job);
        if (job.dedupKey !== null) {
          tx.check(keys.dedup(job.dedupKey), null).set(keys.dedup(job.dedupKey), id);
          inBatch.set(`dedup:${job.dedupKey}`, job);
        }
        inBatch.set(`id:${id}`, job);
        tx.emit({ type: "enqueued", queue, at: now, jobId: id, name: job.name, runAt: job.runAt, priority: job.priority });
        results.push({ job, created: true });
      }
      if (nextId !== (counter.value ?? 0)) tx.check(keys.nextId, counter.versionstamp).set(keys.nextId, nextId);
    });
    return results;
  }

  /** The job an add would duplicate: same id, or a pending job with the same dedup key. */
  async #existing(keys: QueueKeys, input: NewJob, inBatch: Map<string, Job>): Promise<Job | null> {
    if (input.id !== null) {
      const same = inBatch.get(`id:${input.id}`) ?? (await this.#read(keys, input.id))?.job;
      if (same) return same;
    }
    if (input.dedupKey !== null) {
      const same = inBatch.get(`dedup:${input.dedupKey}`);
      if (same) return same;
      const owner = await this.#get<string>(keys.dedup(input.dedupKey));
      if (owner.value !== null) return (await this.#read(keys, owner.value))?.job ?? null;
    }
    return null;
  }

  async #promoteDue(keys: QueueKeys, queue: string, now: number): Promise<void> {
    for (let round = 0; round < MAX_CONFLICTS; round++) {
      const due = await this.#jobsAt(keys, { start: keys.index("delayed"), end: [...keys.index("delayed"), now + 1] }, PER_COMMIT);
      if (due.length === 0) return;
      const tx = new Tx(this.#kv, keys);
      for (const held of due) {
        // Promotion is not a transition of the job's life: same state machine state, new place in line.
        tx.put(held, { ...held.job, state: "waiting", seq: this.#nextSeq(now) });
      }
      const ok = await this.#commit(tx, queue, now);
      if (ok && due.length < PER_COMMIT) return;
      if (!ok) await backoff(round);
    }
  }

  /**
   * Claims from the head of waiting. Workers racing for the same head conflict; the loser takes
   * the jobs one commit each (so one lost race costs one job, not the batch) and reads on.
   */
  async #claimWaiting(keys: QueueKeys, queue: string, request: ClaimRequest): Promise<Job[]> {
    const { now, workerId, leaseMs } = request;
    const jobs: Job[] = [];
    // A short answer tells the worker the queue is empty, so stop early only when the index
    // itself came back short, never because other workers won some races.
    for (let round = 0; jobs.length < request.limit && round < MAX_CONFLICTS; round++) {
      const want = Math.min(request.limit - jobs.length, PER_COMMIT);
      const entries = await collect(this.#kv.list<string>({ prefix: keys.index("waiting") }, { limit: want }));
      if (entries.length === 0) break;
      const steps = (await this.#readIndexed(keys, entries))
        .map((held) => {
          const transition = machine.claim(held.job, workerId, crypto.randomUUID(), now + leaseMs, now);
          return { held, step: { job: machine.applied(held.job, transition, held.job.seq), events: transition.events } };
        });
      const before = jobs.length;
      const tx = new Tx(this.#kv, keys);
      for (const { held, step } of steps) {
        tx.put(held, step.job);
        for (const event of step.events) tx.emit(event);
      }
      if (await this.#commit(tx, queue, now)) {
        jobs.push(...steps.map(({ step }) => step.job));
      } else {
        for (const { held, step } of steps) {
          const one = new Tx(this.#kv, keys).put(held, step.job);
          for (const event of step.events) one.emit(event);
          if (await this.#commit(one, queue, now)) jobs.push(step.job);
        }
      }
      if (entries.length < want) break;
      if (jobs.length === before) await backoff(round);
    }
    return jobs;
  }

  async #nextDueAt(keys: QueueKeys): Promise<number | null> {
    const [first] = await collect(this.#kv.list({ prefix: keys.index("delayed") }, { limit: 1 }));
    return first ? first.key[keys.index("delayed").length] as number : null;
  }

  /** For each item whose token still holds its job, adds that job's change to one commit per slice. */
  async #eachHeld<T extends { id: string; token: string }>(
    keys: QueueKeys,
    queue: string,
    now: number,
    items: readonly T[],
    change: (tx: Tx, held: Versioned, item: T, index: number) => () => void,
  ): Promise<void> {
    const reads = await Promise.all(items.map((item) => this.#read(keys, item.id)));
    let pending = items.map((item, index) => ({ item, index, held: reads[index] }));
    for (let attempt = 0; pending.length > 0 && attempt < MAX_CONFLICTS; attempt++) {
      const retry: typeof pending = [];
      for (let start = 0; start < pending.length;) {
        const tx = new Tx(this.#kv, keys);
        const slice: typeof pending = [];
        const done: (() => void)[] = [];
        for (; start < pending.length && tx.fits(); start++) {
          const entry = pending[start]!;
          if (entry.held?.job.lease?.token !== entry.item.token) continue;
          slice.push(entry);
          done.push(change(tx, entry.held, entry.item, entry.index));
        }
        if (await this.#commit(tx, queue, now)) for (const finish of done) finish();
        else retry.push(...slice);
      }
      // Read the conflicting jobs again: a lease may have been renewed, or lost.
      const fresh = await Promise.all(retry.map((entry) => this.#read(keys, entry.item.id)));
      pending = retry.map((entry, i) => ({ ...entry, held: fresh[i] }));
      if (pending.length > 0) await backoff(attempt);
    }
  }

  async #updateHeld(
    queue: string,
    id: string,
    token: string,
    now: number,
    change: (job: Job) => { job: Job; events: ConveyorEventData[] },
  ): Promise<boolean> {
    const keys = this.#queue(queue);
    let held = false;
    await this.#transact(queue, now, async (tx) => {
      const current = await this.#read(keys, id);
      held = current?.job.lease?.token === token;
      if (!held) return;
      const step = change(current!.job);
      tx.put(current, step.job);
      for (const event of step.events) tx.emit(event);
    });
    return held;
  }

  /** Jobs of one state in index order (reverse: newest finished first). */
  async #jobsIn(keys: QueueKeys, state: JobState, offset: number, limit: number, reverse = false): Promise<Versioned[]> {
    const max = offset + limit;
    const entries = await collect(this.#kv.list<string>({ prefix: keys.index(state) }, {
      reverse,
      ...(Number.isFinite(max) ? { limit: max } : {}),
    }));
    return await this.#readIndexed(keys, entries.slice(offset));
  }

  async #jobsAt(keys: QueueKeys, selector: { start: readonly unknown[]; end: readonly unknown[] }, limit: number): Promise<Versioned[]> {
    const entries = await collect(this.#kv.list<string>(selector as never, { limit }));
    return await this.#readIndexed(keys, entries);
  }

  /**
   * The jobs behind index entries, skipping any that moved between the list and the read (a
   * job another worker just claimed is no longer the waiting job its entry described).
   */
  async #readIndexed(keys: QueueKeys, entries: readonly { key: readonly unknown[]; value: string }[]): Promise<Versioned[]> {
    const read = await Promise.all(entries.map((entry) => this.#read(keys, entry.value)));
    return read.filter((held, i): held is Versioned => held !== null && sameKey(keys.indexOf(held.job), entries[i]!.key as never));
  }

  /** Trims one finished state to a retention rule, oldest first. Best effort: it runs after the commit. */
  async #applyRetention(keys: QueueKeys, queue: string, state: JobState, rule: RetentionRule, now: number, newer = 0): Promise<void> {
    if (rule.count !== null) {
      // `newer` jobs of the same batch entered after this rule's job: they do not count for it.
      const excess = counterValue((await this.#get(keys.count(state))).value) - newer - rule.count;
      if (excess > 0) await this.#deleteIndexed(keys, queue, { prefix: keys.index(state) }, excess, now);
    }
    if (rule.ageMs !== null) {
      await this.#deleteIndexed(keys, queue, { start: keys.index(state), end: [...keys.index(state), now - rule.ageMs] }, Infinity, now);
    }
  }

  /** Deletes up to `limit` jobs listed by an index selector; returns how many went. */
  async #deleteIndexed(keys: QueueKeys, queue: string, selector: object, limit: number, now: number): Promise<number> {
    let removed = 0;
    while (removed < limit) {
      const batch = Math.min(limit - removed, PER_COMMIT);
      const entries = await collect(this.#kv.list<string>(selector as never, { limit: batch }));
      if (entries.length === 0) break;
      const tx = new Tx(this.#kv, keys);
      const held = await this.#readIndexed(keys, entries);
      for (const job of held) tx.put(job, null);
      if (await this.#commit(tx, queue, now)) removed += held.length;
      if (entries.length < batch) break;
    }
    return removed;
  }
}

/**
 * A short, growing, randomised pause after a conflict, so racing writers spread out. Real time
 * on purpose: it waits for other writers, and on a fake clock a store call would hang until the
 * test moved time.
 */
function backoff(attempt: number): Promise<void> {
  return realPause(Math.random() * Math.min(50, 2 ** Math.min(attempt, 6)));
}


