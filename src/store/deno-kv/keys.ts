import type { Job, JobState } from "../../core/job.ts";
import type { KvKey } from "./kv.ts";

/**
 * Where one queue's data lives. Every job has one record and exactly one index entry, whose
 * key sorts the way its state is read: waiting by priority then FIFO, delayed by due time,
 * waiting-children by when it began to wait, finished states by finish time. Moving a job is
 * "delete the old index key, set the new one" in the same atomic operation that checks the
 * record's versionstamp.
 */
export class QueueKeys {
  readonly base: KvKey;
  readonly queue: string;
  readonly #prefix: string;
  constructor(prefix: string, queue: string) {
    this.base = [prefix, "q", queue];
    this.queue = queue;
    this.#prefix = prefix;
  }

  job(id: string): KvKey {
    return [...this.base, "job", id];
  }
  /** Index prefix of a state ("f" + state for finished ones). */
  index(state: JobState): KvKey {
    switch (state) {
      case "waiting":
        return [...this.base, "w"];
      case "delayed":
        return [...this.base, "d"];
      case "active":
        return [...this.base, "a"];
      case "waiting-children":
        return [...this.base, "c"];
      default:
        return [...this.base, "f", state];
    }
  }
  /** The one index entry of a job, by its state. */
  indexOf(job: Job): KvKey {
    switch (job.state) {
      case "waiting":
        return [...this.index("waiting"), job.priority, job.seq, job.id];
      case "delayed":
        return [...this.index("delayed"), job.runAt, job.seq, job.id];
      case "active":
        return [...this.index("active"), job.id];
      case "waiting-children":
        return [...this.index("waiting-children"), job.seq, job.id];
      default:
        return [...this.index(job.state), job.finishedAt ?? 0, job.seq, job.id];
    }
  }
  dedup(key: string): KvKey {
    return [...this.base, "dedup", key];
  }
  count(state: JobState): KvKey {
    return [...this.base, "n", state];
  }
  get paused(): KvKey {
    return [...this.base, "paused"];
  }
  get nextId(): KvKey {
    return [...this.base, "next-id"];
  }
  /** Event log entries, read by other processes; they expire on their own. */
  get events(): KvKey {
    return [...this.base, "ev"];
  }
  /** Bumped with every event written, for `watch`. */
  get eventTick(): KvKey {
    return [...this.base, "ev-tick"];
  }
  /** Flows being written that have jobs in this queue (a counter): none of those jobs is claimed while it is above 0. */
  get gate(): KvKey {
    return [...this.base, "gate"];
  }
  /** A parent's children, in chunks numbered from 0 (see family.ts). */
  children(id: string): KvKey {
    return [...this.base, "kids", id];
  }
  /** How a parent's children ended, one entry each, numbered in the order they ended. */
  outcomes(id: string): KvKey {
    return [...this.base, "outs", id];
  }
  /** The outbox entry that deletes a deleted parent's children and outcomes. */
  forget(id: string): KvKey {
    return [this.#prefix, "outbox", "forget", this.queue, id];
  }
  /** The outbox entry cancelling a parent's children, one slice per commit. */
  cancelChildren(id: string): KvKey {
    return [this.#prefix, "outbox", "cc", this.queue, id];
  }
}

/**
 * Keys outside any one queue: the outbox of workflow work still to do (effects of jobs that
 * ended, flows being written, families to delete), and the staging area of big flows.
 */
export class StoreKeys {
  readonly prefix: string;
  constructor(prefix: string) {
    this.prefix = prefix;
  }
  get outbox(): KvKey {
    return [this.prefix, "outbox"];
  }
  /** One effect, keyed by the seq and node that set it off. */
  effect(seq: number, nodeId: string): KvKey {
    return [this.prefix, "outbox", "e", seq, nodeId];
  }
  /** A flow whose jobs are staged and are being moved into their queues. */
  flow(flowId: string): KvKey {
    return [this.prefix, "outbox", "flow", flowId];
  }
  get flows(): KvKey {
    return [this.prefix, "outbox", "flow"];
  }
  /** A flow's staged items, numbered from 0. */
  staged(flowId: string): KvKey {
    return [this.prefix, "flow", flowId];
  }
  /** A flow still being staged by its producer. */
  draft(flowId: string): KvKey {
    return [this.prefix, "flow-draft", flowId];
  }
  get drafts(): KvKey {
    return [this.prefix, "flow-draft"];
  }
}

export function sameKey(a: KvKey, b: KvKey): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}
