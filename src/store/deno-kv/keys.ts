import type { Job, JobState } from "../../core/job.ts";
import type { KvKey } from "./kv.ts";

/**
 * Where one queue's data lives. Every job has one record and exactly one index entry, whose
 * key sorts the way its state is read: waiting by priority then FIFO, delayed by due time,
 * finished states by finish time. Moving a job is "delete the old index key, set the new one"
 * in the same atomic operation that checks the record's versionstamp.
 */
export class QueueKeys {
  readonly base: KvKey;
  constructor(prefix: string, queue: string) {
    this.base = [prefix, "q", queue];
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
}

export function sameKey(a: KvKey, b: KvKey): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}
