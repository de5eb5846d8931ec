import { ConveyorError } from "../../core/errors.ts";
import type { Job } from "../../core/job.ts";
import { backoff, type KvQueueAccess, MAX_CONFLICTS } from "./access.ts";
import { type EffectEntry, EffectRound } from "./effects.ts";
import { endEffects, type StoredEffect } from "./family.ts";
import type { FlowWriter } from "./flows.ts";
import type { StoreKeys } from "./keys.ts";
import { collect, KV_LIMITS, type KvEntry, type KvKey } from "./kv.ts";
import type { Tx } from "./tx.ts";

/**
 * Workflow work still to do, kept in the database beside the jobs: the effects of jobs that
 * ended (written in the commit of the transition that ended them), flows being written, and
 * the children and outcomes of deleted parents. Each entry leaves the outbox in the commit
 * that does its work, so an entry is done exactly once whoever does it: the process that wrote
 * it does it at once; one that died before is replaced by any store on the same database, whose
 * sweeps (on its first call, on every `recoverStalled`) take every entry they find.
 */
type Entry =
  | EffectEntry
  | (KvEntry<{ kind: "forget"; queue: string; id: string }>)
  | (KvEntry<{ kind: "flow" }>);

/** Entries read per pass of a sweep. */
const SWEEP_PAGE = 64;
/** Keys one `forget` commit deletes. */
const FORGET_SLICE = 400;

export class Outbox {
  readonly #db: KvQueueAccess;
  readonly #store: StoreKeys;
  readonly #flows: FlowWriter;

  constructor(db: KvQueueAccess, store: StoreKeys, flows: FlowWriter) {
    this.#db = db;
    this.#store = store;
    this.#flows = flows;
  }

  /** Adds what a job that just ended (or was removed) sets off to the transition's commit; returns the entries' keys. */
  record(tx: Tx, job: Job, now: number, removed = false): KvKey[] {
    const keys: KvKey[] = [];
    for (const effect of endEffects(job, now, removed)) {
      const key = effect.kind === "cancel-children"
        ? this.#db.queue(job.queue).cancelChildren(job.id)
        : this.#store.effect(this.#db.nextSeq(now), this.#db.nodeId);
      tx.set(key, { kind: "effect", now, effect });
      keys.push(key);
    }
    return keys;
  }

  /** Does the given entries and everything they set off, until none is left. */
  async drain(keys: readonly KvKey[]): Promise<void> {
    const pending = [...keys];
    for (let conflicts = 0; pending.length > 0;) {
      const batch = pending.splice(0, KV_LIMITS.checks);
      const read = await Promise.all(batch.map((key) => this.#db.get(key)));
      const entries = read.filter((entry) => entry.versionstamp !== null) as Entry[];
      if (entries.length === 0) continue;
      const first = entries[0]!;
      if (first.value.kind === "flow") {
        await this.#flows.materialise(first.key);
        pending.unshift(...entries.slice(1).map((entry) => entry.key));
        continue;
      }
      const result = first.value.kind === "forget"
        ? await this.#forget(first as Entry & { value: { kind: "forget" } })
        : await this.#effects(entries);
      if (result === null) {
        if (++conflicts >= MAX_CONFLICTS) {
          throw new ConveyorError(
            "STORE_CONFLICT",
            `Gave up on workflow effects after ${MAX_CONFLICTS} conflicting commits`,
          );
        }
        pending.unshift(...batch);
        await backoff(conflicts);
        continue;
      }
      conflicts = 0;
      const untaken = entries.slice(result.taken).map((entry) => entry.key);
      pending.unshift(...result.again, ...untaken);
      pending.push(...result.spilled);
    }
  }

  /** Does every entry in the outbox; an entry another process is doing costs only a conflict. */
  async sweep(): Promise<void> {
    await this.#flows.sweepDrafts();
    let seen = "";
    for (;;) {
      const page = await collect(this.#db.kv.list({ prefix: this.#store.outbox }, { limit: SWEEP_PAGE }));
      // The same page twice: what is left waits on others (a forget on a cancel another process is doing).
      const names = page.map((entry) => `${entry.key.join("\u0000")}@${entry.versionstamp}`).join("\n");
      if (page.length === 0 || names === seen) return;
      seen = names;
      await this.drain(page.map((entry) => entry.key));
    }
  }

  /** Effect entries from the head of `entries`, as many as one commit holds; null on a conflict. */
  async #effects(entries: readonly Entry[]): Promise<{ taken: number; again: KvKey[]; spilled: KvKey[] } | null> {
    const round = new EffectRound(
      this.#db,
      this.#store,
      this.#db.tx(this.#db.queue(queueOf((entries[0] as EffectEntry).value.effect))),
    );
    let taken = 0;
    for (const entry of entries) {
      if (entry.value.kind !== "effect" || !round.room(3)) break;
      await round.take(entry as EffectEntry);
      taken++;
    }
    if (!await round.commit()) return null;
    await round.trim();
    return { taken, again: round.kept, spilled: round.spilled };
  }

  /**
   * A deleted parent's children and outcomes, a slice per commit. It waits while the parent's
   * children are still being cancelled: that reads the children's chunks.
   */
  async #forget(
    entry: KvEntry<{ kind: "forget"; queue: string; id: string }>,
  ): Promise<{ taken: number; again: KvKey[]; spilled: KvKey[] } | null> {
    const keys = this.#db.queue(entry.value.queue);
    if ((await this.#db.get(keys.cancelChildren(entry.value.id))).versionstamp !== null) {
      return { taken: 1, again: [], spilled: [] };
    }
    const [outcomes, children] = await Promise.all([
      collect(this.#db.kv.list({ prefix: keys.outcomes(entry.value.id) }, { limit: FORGET_SLICE })),
      collect(this.#db.kv.list({ prefix: keys.children(entry.value.id) }, { limit: FORGET_SLICE })),
    ]);
    const tx = this.#db.tx(keys).check(entry.key, entry.versionstamp);
    for (const item of [...outcomes, ...children]) tx.delete(item.key);
    const done = outcomes.length < FORGET_SLICE && children.length < FORGET_SLICE;
    if (done) tx.delete(entry.key);
    if (!await this.#db.commit(tx, this.#db.clock.now())) return null;
    return { taken: 1, again: done ? [] : [entry.key], spilled: [] };
  }
}

/** The queue an effect is about (a commit's first queue: most of its writes are there). */
function queueOf(effect: StoredEffect): string {
  switch (effect.kind) {
    case "enqueue":
      return effect.queue;
    case "settle":
      return effect.parent.queue;
    case "cancel":
      return effect.ref.queue;
    case "cancel-children":
      return effect.parent.queue;
  }
}
