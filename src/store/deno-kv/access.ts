import type { Clock } from "../../core/clock.ts";
import { ConveyorError } from "../../core/errors.ts";
import type { ConveyorEventData } from "../../core/events.ts";
import { initialJob, type Job, JOB_STATES, type JobCounts, type JobState, type NewJob, PENDING_STATES, type RetentionRule } from "../../core/job.ts";
import type { ClaimRequest, EnqueueResult } from "../../core/store-contract.ts";
import * as machine from "../../core/transitions.ts";
import type { EventHub } from "./event-hub.ts";
import { QueueKeys, sameKey } from "./keys.ts";
import { checksPerCommit, collect, counterValue, type DenoKv, KV_LIMITS, realPause } from "./kv.ts";
import { Tx, type Versioned } from "./tx.ts";

/** Commits retried this often after conflicting with other writers before the call fails. */
export const MAX_CONFLICTS = 64;
/** Jobs moved per commit when each costs one check. */
export const PER_COMMIT = KV_LIMITS.checks;

/**
 * How the Deno KV store reads and commits: versioned reads, checked atomic commits retried on
 * conflict, the indexes of each state, and the event log each commit writes to. The store's
 * transitions are built from these.
 */
export class KvQueueAccess {
  readonly kv: DenoKv;
  readonly prefix: string;
  readonly clock: Clock;
  readonly nodeId = crypto.randomUUID();
  readonly hub: EventHub;
  readonly #keysByQueue = new Map<string, QueueKeys>();
  readonly #assertOpen: () => void;
  readonly #keysOf = (queue: string) => this.queue(queue);
  /** Last seq handed out: a hybrid clock (ms × 1000, counting up within a millisecond). */
  seq = 0;
  /** Jobs one claim, finish or clean commit may hold: 10 until the backend says it takes more. */
  perCommit: number = PER_COMMIT;

  constructor(kv: DenoKv, prefix: string, clock: Clock, hub: (nodeId: string) => EventHub, assertOpen: () => void) {
    this.kv = kv;
    this.prefix = prefix;
    this.clock = clock;
    this.hub = hub(this.nodeId);
    this.#assertOpen = assertOpen;
    void checksPerCommit(kv, prefix).then((checks) => this.perCommit = checks);
  }

  queue(name: string): QueueKeys {
    let keys = this.#keysByQueue.get(name);
    if (!keys) this.#keysByQueue.set(name, keys = new QueueKeys(this.prefix, name));
    return keys;
  }


  nextSeq(now: number): number {
    this.seq = Math.max(this.seq + 1, Math.floor(now) * 1_000);
    return this.seq;
  }

  get<T = unknown>(key: readonly unknown[]) {
    return this.kv.get<T>(key as never);
  }

  async read(keys: QueueKeys, id: string): Promise<Versioned | null> {
    const entry = await this.get<Job>(keys.job(id));
    return entry.value === null ? null : { job: entry.value, versionstamp: entry.versionstamp! };
  }

  /** Writes a job's next form, releasing its dedup key when it leaves the pending states. */
  write(tx: Tx, keys: QueueKeys, held: Versioned, next: Job | null): void {
    tx.put(held, next);
    const { dedupKey, state } = held.job;
    // The key exists exactly while a pending job holds it, so no read is needed to release it.
    if (dedupKey !== null && PENDING_STATES.has(state) && !(next && PENDING_STATES.has(next.state))) tx.delete(keys.dedup(dedupKey));
  }

  /** A new atomic operation; jobs of other queues than `keys`' find their keys by their queue. */
  tx(keys: QueueKeys): Tx {
    return new Tx(this.kv, keys, this.#keysOf);
  }

  /** A commit of the hot path, as wide as the backend allows (its jobs' size counted). */
  wideTx(keys: QueueKeys): Tx {
    return new Tx(this.kv, keys, this.#keysOf, this.perCommit);
  }

  async commit(tx: Tx, now: number): Promise<boolean> {
    if (tx.empty) return true;
    const ok = await tx.commit(() => this.nextSeq(now), this.nodeId);
    if (ok) for (const [queue, events] of tx.events()) this.hub.deliver(queue, events);
    return ok;
  }

  /** Builds and commits one atomic operation, reading afresh after each conflict. */
  async transact(queue: string, now: number, build: (tx: Tx) => Promise<unknown>): Promise<void> {
    this.#assertOpen();
    const keys = this.queue(queue);
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const tx = this.tx(keys);
      await build(tx);
      if (await this.commit(tx, now)) return;
      await backoff(attempt);
    }
    throw new ConveyorError("STORE_CONFLICT", `Gave up on queue "${queue}" after ${MAX_CONFLICTS} conflicting commits`);
  }

  async enqueue(queue: string, jobs: readonly NewJob[], now: number): Promise<EnqueueResult[]> {
    const results: EnqueueResult[] = [];
    // A commit holds 10 checks: a job costs one, two with a dedup key, and the id counter one.
    // A big batch commits slice by slice, in order.
    let slice: NewJob[] = [];
    let checks = 1;
    for (const job of jobs) {
      const cost = job.dedupKey === null ? 1 : 2;
      if (checks + cost > KV_LIMITS.checks) {
        results.push(...await this.enqueueSlice(queue, slice, now));
        slice = [];
        checks = 1;
      }
      slice.push(job);
      checks += cost;
    }
    if (slice.length > 0) results.push(...await this.enqueueSlice(queue, slice, now));
    return results;
  }

  async enqueueSlice(queue: string, jobs: readonly NewJob[], now: number): Promise<EnqueueResult[]> {
    const keys = this.queue(queue);
    let results: EnqueueResult[] = [];
    await this.transact(queue, now, async (tx) => {
      results = [];
      const counter = await this.get<number>(keys.nextId);
      let nextId = counter.value ?? 0;
      const inBatch = new Map<string, Job>();
      for (const input of jobs) {
        const existing = await this.existing(keys, input, inBatch);
        if (existing) {
          results.push({ job: existing, created: false });
          continue;
        }
        const id = input.id ?? String(++nextId);
        const seq = this.nextSeq(now);
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
  async existing(keys: QueueKeys, input: NewJob, inBatch: Map<string, Job>): Promise<Job | null> {
    if (input.id !== null) {
      const same = inBatch.get(`id:${input.id}`) ?? (await this.read(keys, input.id))?.job;
      if (same) return same;
    }
    if (input.dedupKey !== null) {
      const same = inBatch.get(`dedup:${input.dedupKey}`);
      if (same) return same;
      const owner = await this.get<string>(keys.dedup(input.dedupKey));
      if (owner.value !== null) return (await this.read(keys, owner.value))?.job ?? null;
    }
    return null;
  }

  async promoteDue(keys: QueueKeys, now: number): Promise<void> {
    for (let round = 0; round < MAX_CONFLICTS; round++) {
      const due = await this.jobsAt(keys, { start: keys.index("delayed"), end: [...keys.index("delayed"), now + 1] }, PER_COMMIT);
      if (due.length === 0) return;
      const tx = this.tx(keys);
      for (const held of due) {
        // Promotion is not a transition of the job's life: same state machine state, new place in line.
        tx.put(held, { ...held.job, state: "waiting", seq: this.nextSeq(now) });
      }
      const ok = await this.commit(tx, now);
      if (ok && due.length < PER_COMMIT) return;
      if (!ok) await backoff(round);
    }
  }

  /**
   * Claims from the head of waiting. Workers racing for the same head conflict; the loser takes
   * the jobs one commit each (so one lost race costs one job, not the batch) and reads on.
   */
  async claimWaiting(keys: QueueKeys, request: ClaimRequest, gate: (keys: QueueKeys) => Promise<boolean>): Promise<Job[]> {
    const { now, workerId, leaseMs } = request;
    const jobs: Job[] = [];
    // A short answer tells the worker the queue is empty, so stop early only when the index
    // itself came back short, never because other workers won some races.
    for (let round = 0; jobs.length < request.limit && round < MAX_CONFLICTS; round++) {
      const want = Math.min(request.limit - jobs.length, this.perCommit);
      const entries = await collect(this.kv.list<string>({ prefix: keys.index("waiting") }, { limit: want }));
      if (entries.length === 0) break;
      const candidates = await this.readIndexed(keys, entries);
      // No job of a flow is claimed before the whole flow is in (see flows.ts): read afresh once it is.
      if (candidates.some((held) => held.job.flow !== null) && await gate(keys)) continue;
      const before = jobs.length;
      const tx = this.wideTx(keys);
      const steps: { held: Versioned; step: { job: Job; events: readonly ConveyorEventData[] } }[] = [];
      for (const held of candidates) {
        if (!tx.fits()) break;
        const transition = machine.claim(held.job, workerId, crypto.randomUUID(), now + leaseMs, now);
        const step = { job: machine.applied(held.job, transition, held.job.seq), events: transition.events };
        tx.put(held, step.job);
        for (const event of step.events) tx.emit(event);
        steps.push({ held, step });
      }
      if (await this.commit(tx, now)) {
        jobs.push(...steps.map(({ step }) => step.job));
      } else if (steps.length > PER_COMMIT) {
        // A wide batch lost a race: read the head afresh rather than commit its jobs one by one.
        await backoff(round);
        continue;
      } else {
        for (const { held, step } of steps) {
          const one = this.tx(keys).put(held, step.job);
          for (const event of step.events) one.emit(event);
          if (await this.commit(one, now)) jobs.push(step.job);
        }
      }
      if (entries.length < want) break;
      if (jobs.length === before) await backoff(round);
    }
    return jobs;
  }

  async counts(keys: QueueKeys): Promise<JobCounts> {
    const [paused, ...values] = await Promise.all([this.get<boolean>(keys.paused), ...JOB_STATES.map((s) => this.get(keys.count(s)))]);
    const counts = Object.fromEntries(JOB_STATES.map((state, i) => [state, counterValue(values[i]!.value)])) as Record<JobState, number>;
    const isPaused = paused.value === true;
    return { ...counts, waiting: isPaused ? 0 : counts.waiting, paused: isPaused ? counts.waiting : 0 };
  }

  async nextDueAt(keys: QueueKeys): Promise<number | null> {
    const [first] = await collect(this.kv.list({ prefix: keys.index("delayed") }, { limit: 1 }));
    return first ? first.key[keys.index("delayed").length] as number : null;
  }

  /** For each item whose token still holds its job, adds that job's change to one commit per slice. */
  async eachHeld<T extends { id: string; token: string }>(
    keys: QueueKeys,
    now: number,
    items: readonly T[],
    change: (tx: Tx, held: Versioned, item: T, index: number) => () => void,
  ): Promise<void> {
    const reads = await Promise.all(items.map((item) => this.read(keys, item.id)));
    let pending = items.map((item, index) => ({ item, index, held: reads[index] }));
    for (let attempt = 0; pending.length > 0 && attempt < MAX_CONFLICTS; attempt++) {
      const retry: typeof pending = [];
      for (let start = 0; start < pending.length;) {
        const tx = this.wideTx(keys);
        const slice: typeof pending = [];
        const done: (() => void)[] = [];
        for (; start < pending.length && tx.fits(); start++) {
          const entry = pending[start]!;
          if (entry.held?.job.lease?.token !== entry.item.token) continue;
          slice.push(entry);
          done.push(change(tx, entry.held, entry.item, entry.index));
        }
        if (await this.commit(tx, now)) for (const finish of done) finish();
        else retry.push(...slice);
      }
      // Read the conflicting jobs again: a lease may have been renewed, or lost.
      const fresh = await Promise.all(retry.map((entry) => this.read(keys, entry.item.id)));
      pending = retry.map((entry, i) => ({ ...entry, held: fresh[i] }));
      if (pending.length > 0) await backoff(attempt);
    }
  }

  async updateHeld(
    queue: string,
    id: string,
    token: string,
    now: number,
    change: (job: Job) => { job: Job; events: ConveyorEventData[] },
  ): Promise<boolean> {
    const keys = this.queue(queue);
    let held = false;
    await this.transact(queue, now, async (tx) => {
      const current = await this.read(keys, id);
      held = current?.job.lease?.token === token;
      if (!held) return;
      const step = change(current!.job);
      tx.put(current, step.job);
      for (const event of step.events) tx.emit(event);
    });
    return held;
  }

  /** Jobs of one state in index order (reverse: newest finished first). */
  async jobsIn(keys: QueueKeys, state: JobState, offset: number, limit: number, reverse = false): Promise<Versioned[]> {
    const max = offset + limit;
    const entries = await collect(this.kv.list<string>({ prefix: keys.index(state) }, {
      reverse,
      ...(Number.isFinite(max) ? { limit: max } : {}),
    }));
    return await this.readIndexed(keys, entries.slice(offset));
  }

  async jobsAt(keys: QueueKeys, selector: { start: readonly unknown[]; end: readonly unknown[] }, limit: number): Promise<Versioned[]> {
    const entries = await collect(this.kv.list<string>(selector as never, { limit }));
    return await this.readIndexed(keys, entries);
  }

  /**
   * The jobs behind index entries, skipping any that moved between the list and the read (a
   * job another worker just claimed is no longer the waiting job its entry described).
   */
  async readIndexed(keys: QueueKeys, entries: readonly { key: readonly unknown[]; value: string }[]): Promise<Versioned[]> {
    const read = await Promise.all(entries.map((entry) => this.read(keys, entry.value)));
    return read.filter((held, i): held is Versioned => held !== null && sameKey(keys.indexOf(held.job), entries[i]!.key as never));
  }

  /** Trims one finished state to a retention rule, oldest first. Best effort: it runs after the commit. */
  async applyRetention(keys: QueueKeys, state: JobState, rule: RetentionRule, now: number, newer = 0): Promise<void> {
    if (rule.count !== null) {
      // `newer` jobs of the same batch entered after this rule's job: they do not count for it.
      const excess = counterValue((await this.get(keys.count(state))).value) - newer - rule.count;
      if (excess > 0) await this.deleteIndexed(keys, { prefix: keys.index(state) }, excess, now);
    }
    if (rule.ageMs !== null) {
      await this.deleteIndexed(keys, { start: keys.index(state), end: [...keys.index(state), now - rule.ageMs] }, Infinity, now);
    }
  }

  /** Deletes up to `limit` jobs listed by an index selector; returns how many went. */
  async deleteIndexed(keys: QueueKeys, selector: object, limit: number, now: number): Promise<number> {
    let removed = 0;
    while (removed < limit) {
      const batch = Math.min(limit - removed, this.perCommit);
      const entries = await collect(this.kv.list<string>(selector as never, { limit: batch }));
      if (entries.length === 0) break;
      const tx = this.wideTx(keys);
      const held = await this.readIndexed(keys, entries);
      for (const job of held) tx.put(job, null);
      if (await this.commit(tx, now)) removed += held.length;
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
export function backoff(attempt: number): Promise<void> {
  return realPause(Math.random() * Math.min(50, 2 ** Math.min(attempt, 6)));
}


