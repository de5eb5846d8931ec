import {
  FINISHED_STATES,
  initialJob,
  type Job,
  type JobState,
  type NewJob,
  type RetentionRule,
} from "../../core/job.ts";
import * as machine from "../../core/transitions.ts";
import type { Effect } from "../../core/workflow-rules.ts";
import type { JobRef } from "../../core/workflow.ts";
import type { KvQueueAccess } from "./access.ts";
import { type CancelChildren, CHILDREN_PER_CHUNK, endEffects, settleStored, type StoredEffect } from "./family.ts";
import type { QueueKeys, StoreKeys } from "./keys.ts";
import { KV_LIMITS, type KvKey } from "./kv.ts";
import { approxSize } from "./size.ts";
import type { Tx, Versioned } from "./tx.ts";

/** An outbox entry holding one effect, as read. */
export interface EffectEntry {
  readonly key: KvKey;
  readonly versionstamp: string;
  readonly value: { readonly kind: "effect"; readonly now: number; readonly effect: StoredEffect };
}

/** Effects one commit applies at most, and the bytes it writes (Deno KV allows 800 KiB). */
const MAX_EFFECTS = 64;
const MAX_BYTES = 400_000;
const MAX_MUTATIONS = KV_LIMITS.mutations - 200;

interface Slot {
  readonly keys: QueueKeys;
  readonly held: Versioned | null;
  job: Job | null;
  changed: boolean;
}

/**
 * One commit's worth of workflow effects. Each effect's entry is checked and deleted in the
 * commit that applies it, so two processes draining the same entry cannot both apply it: the
 * second commit fails and reads again. What an applied effect sets off (a parent that fails
 * cancels its children, a batch that ends starts its chain) is applied in the same commit while
 * it fits the commit's limits, and written to the outbox as new entries when it does not. Jobs
 * touched twice in one commit (siblings settling one parent) are read once and written once.
 */
export class EffectRound {
  readonly tx: Tx;
  /** New outbox entries this commit writes: the caller applies them next. */
  readonly spilled: KvKey[] = [];
  /** Entries this commit rewrites (a cancel of many children, part done). */
  readonly kept: KvKey[] = [];
  readonly #db: KvQueueAccess;
  readonly #store: StoreKeys;
  readonly #slots = new Map<string, Slot>();
  readonly #counters = new Map<QueueKeys, { versionstamp: string | null; start: number; next: number }>();
  readonly #retention: { keys: QueueKeys; state: JobState; rule: RetentionRule; now: number }[] = [];
  #now = 0;
  #reserved = 0;
  #bytes = 0;
  #applied = 0;

  constructor(db: KvQueueAccess, store: StoreKeys, tx: Tx) {
    this.#db = db;
    this.#store = store;
    this.tx = tx;
  }

  /** Room for `checks` more checks, and for more writes. */
  room(checks: number): boolean {
    return this.#reserved + checks <= KV_LIMITS.checks && this.#applied < MAX_EFFECTS && this.#bytes < MAX_BYTES &&
      this.tx.mutations < MAX_MUTATIONS;
  }

  /** Applies an entry's effect (a slice of it, for a cancel of many children). The caller checked `room(3)`. */
  async take(entry: EffectEntry): Promise<void> {
    const { now, effect } = entry.value;
    this.#now ||= now;
    this.tx.check(entry.key, entry.versionstamp);
    this.#reserved++;
    if (effect.kind === "cancel-children") return await this.#cancelChildren(entry, effect, now);
    this.tx.delete(entry.key);
    await this.#applyAll([effect], now);
  }

  async commit(): Promise<boolean> {
    for (const slot of this.#slots.values()) if (slot.changed) this.#db.write(this.tx, slot.keys, slot.held!, slot.job);
    for (const [keys, counter] of this.#counters) {
      if (counter.next !== counter.start) {
        this.tx.check(keys.nextId, counter.versionstamp).set(keys.nextId, counter.next);
      }
    }
    return await this.#db.commit(this.tx, this.#now);
  }

  /** After the commit: retention of the states jobs finished in (best effort, as everywhere). */
  async trim(): Promise<void> {
    for (const { keys, state, rule, now } of this.#retention) await this.#db.applyRetention(keys, state, rule, now);
  }

  async #applyAll(effects: readonly StoredEffect[], now: number): Promise<void> {
    const work = [...effects];
    for (let effect = work.shift(); effect !== undefined; effect = work.shift()) {
      const next = effect.kind === "cancel-children" ? null : await this.#apply(effect, now);
      if (next === null) this.#spill(effect, now);
      else work.push(...next);
    }
  }

  /** What applying the effect sets off; null when this commit has no room for it. */
  async #apply(effect: Effect, now: number): Promise<StoredEffect[] | null> {
    if (!this.room(0)) return null;
    this.#applied++;
    if (effect.kind === "enqueue") return await this.#enqueue(effect.queue, effect.job, now) ? [] : null;
    const slot = await this.#slot(effect.kind === "settle" ? effect.parent : effect.ref);
    if (slot === null) return null;
    if (slot.job === null) return [];
    if (effect.kind === "settle") {
      const recorded = (slot.job.flow?.family as { recorded?: number } | null)?.recorded ?? 0;
      const settled = settleStored(slot.job, effect.parent, effect.child, now, this.#db.nextSeq(now));
      if (settled === null) return [];
      settled.added.forEach((outcome, i) => {
        this.tx.set([...slot.keys.outcomes(slot.job!.id), recorded + i], outcome);
        this.#bytes += approxSize(outcome);
      });
      return this.#changed(slot, settled.job, settled.transition, now);
    }
    const transition = machine.cancel(slot.job, now, null);
    if (typeof transition === "string") return [];
    return this.#changed(slot, machine.applied(slot.job, transition, slot.job.seq), transition, now);
  }

  #changed(slot: Slot, next: Job, transition: machine.Transition, now: number): StoredEffect[] {
    slot.job = next;
    slot.changed = true;
    for (const event of transition.events) this.tx.emit(event);
    if (transition.retention) {
      this.#retention.push({ keys: slot.keys, state: transition.state, rule: transition.retention, now });
    }
    return FINISHED_STATES.has(next.state) ? endEffects(next, now) : [];
  }

  /** The job behind a ref, read once per commit; null when there is no room to read another. */
  async #slot(ref: JobRef): Promise<Slot | null> {
    const id = slotId(ref);
    const cached = this.#slots.get(id);
    if (cached) return cached;
    if (!this.room(1)) return null;
    const keys = this.#db.queue(ref.queue);
    const held = await this.#db.read(keys, ref.id);
    // A missing job stays missing (ids are not reused), so only a job that exists costs a check.
    if (held) {
      this.#reserved++;
      this.#bytes += approxSize(held.job);
    }
    const slot: Slot = { keys, held, job: held?.job ?? null, changed: false };
    this.#slots.set(id, slot);
    return slot;
  }

  /** Reads the jobs behind refs together, as many as there is room for (they are then cached). */
  async #prefetch(refs: readonly JobRef[]): Promise<void> {
    const wanted = refs.filter((ref) => !this.#slots.has(slotId(ref))).slice(0, KV_LIMITS.checks - this.#reserved);
    await Promise.all(wanted.map((ref) => this.#slot(ref)));
  }

  /** A chain step, with an id from its queue's counter (read once per commit, checked). */
  async #enqueue(queue: string, input: NewJob, now: number): Promise<boolean> {
    const keys = this.#db.queue(queue);
    let counter = this.#counters.get(keys);
    if (!counter && !this.room(2)) return false;
    if (!counter) {
      const entry = await this.#db.get<number>(keys.nextId);
      this.#counters.set(
        keys,
        counter = { versionstamp: entry.versionstamp, start: entry.value ?? 0, next: entry.value ?? 0 },
      );
      this.#reserved++;
    } else if (!this.room(1)) return false;
    const id = String(++counter.next);
    const job = initialJob(
      input,
      id,
      queue,
      this.#db.nextSeq(now),
      machine.pendingState(input.runAt, now),
      input.payload,
    );
    this.tx.put(null, job);
    this.#reserved++;
    this.#bytes += approxSize(job);
    if (job.dedupKey !== null) this.tx.set(keys.dedup(job.dedupKey), id);
    this.tx.emit({
      type: "enqueued",
      queue,
      at: now,
      jobId: id,
      name: job.name,
      runAt: job.runAt,
      priority: job.priority,
    });
    return true;
  }

  /** A slice of a parent's children cancelled; the entry keeps the rest. */
  async #cancelChildren(entry: EffectEntry, cc: CancelChildren, now: number): Promise<void> {
    // The parent read first: each cancelled child's news to it is then settled in this commit (it no longer waits).
    await this.#slot(cc.parent);
    const chunks = this.#db.queue(cc.parent.queue).children(cc.parent.id);
    let chunk: readonly JobRef[] = [];
    let chunkNo = -1;
    let i = cc.next;
    while (i < cc.total) {
      const no = Math.floor(i / CHILDREN_PER_CHUNK);
      if (no !== chunkNo) {
        chunk = (await this.#db.get<JobRef[]>([...chunks, no])).value ?? [];
        chunkNo = no;
      }
      const at = i - no * CHILDREN_PER_CHUNK;
      const ref = chunk[at];
      if (ref === undefined) {
        i = (no + 1) * CHILDREN_PER_CHUNK;
        continue;
      }
      // The next children read together (one round trip, not one each).
      if (!this.#slots.has(slotId(ref))) await this.#prefetch(chunk.slice(at, at + KV_LIMITS.checks));
      const next = await this.#apply({ kind: "cancel", ref }, now);
      if (next === null) break;
      i++;
      await this.#applyAll(next, now);
    }
    if (i >= cc.total) {
      this.tx.delete(entry.key);
    } else {
      this.tx.set(entry.key, { ...entry.value, effect: { ...cc, next: i } });
      this.kept.push(entry.key);
    }
  }

  #spill(effect: StoredEffect, now: number): void {
    const key = effect.kind === "cancel-children"
      ? this.#db.queue(effect.parent.queue).cancelChildren(effect.parent.id)
      : this.#store.effect(this.#db.nextSeq(now), this.#db.nodeId);
    this.tx.set(key, { kind: "effect", now, effect });
    this.spilled.push(key);
  }
}

const slotId = (ref: JobRef) => `${ref.queue}\u0000${ref.id}`;
