import type { Job } from "../../core/job.ts";
import type { FlowNode } from "../../core/workflow.ts";
import type { KvQueueAccess } from "./access.ts";
import { expandFamily } from "./family.ts";
import { FlowWriter } from "./flows.ts";
import { type QueueKeys, StoreKeys } from "./keys.ts";
import type { KvKey } from "./kv.ts";
import { Outbox } from "./outbox.ts";
import type { Tx } from "./tx.ts";

/**
 * Chains, flows and batches on Deno KV: what the store's transitions call. Effects touch jobs in
 * other queues, and a cascade (a batch of 1,000 cancelled) or a flow (10,000 jobs) is far more
 * than one commit holds, so:
 * - a transition that ends a job of a workflow writes the job's effects to the outbox in its own
 *   commit (`record`), and the call applies them before it returns (`drain`): outbox.ts says
 *   why each is applied exactly once, by this process or, if it dies, by any other;
 * - effects.ts applies them, a commit at a time, with what they set off in turn;
 * - flows.ts writes flows, in one commit or in slices behind a gate;
 * - family.ts keeps a parent's children and outcomes beside its record, not in it.
 */
export class KvWorkflows {
  readonly #db: KvQueueAccess;
  readonly #flows: FlowWriter;
  readonly #outbox: Outbox;
  #opened: Promise<void> | null = null;

  constructor(db: KvQueueAccess) {
    const store = new StoreKeys(db.prefix);
    this.#db = db;
    this.#flows = new FlowWriter(db, store);
    this.#outbox = new Outbox(db, store, this.#flows);
  }

  /** Called by the calls that act: the first of them sweeps up what processes that died left. */
  opened(): Promise<void> {
    this.#opened ??= this.#outbox.sweep().catch((error) => {
      this.#opened = null;
      throw error;
    });
    return this.#opened;
  }

  enqueueFlow(nodes: readonly FlowNode[], now: number): Promise<Job[]> {
    return this.#flows.enqueue(nodes, now);
  }

  /** Outbox entries for a job a transition ended (or removed), in that transition's commit. */
  record(tx: Tx, job: Job, now: number, removed = false): KvKey[] {
    if (job.flow === null) return [];
    const keys = this.#outbox.record(tx, job, now, removed);
    // A removed parent's family goes too (the entry is written by the removal: see Tx).
    if (removed && job.flow.family) keys.push(this.#db.queue(job.queue).forget(job.id));
    return keys;
  }

  async drain(keys: readonly KvKey[]): Promise<void> {
    if (keys.length > 0) await this.#outbox.drain(keys);
  }

  sweep(): Promise<void> {
    return this.#outbox.sweep();
  }

  /** Claims call this on reading jobs of flows: true when flows were still being written (done now; read again). */
  readonly gate = (keys: QueueKeys): Promise<boolean> => this.#flows.gate(keys);

  /** Cancel and remove call this on the job they read: true when its flow was still being written (done now; read again). */
  async flowWasOpen(keys: QueueKeys, job: Job | undefined): Promise<boolean> {
    return job !== undefined && job.flow !== null && await this.#flows.gate(keys);
  }

  /** Jobs as callers see them: parents with their whole family. */
  async expand(keys: QueueKeys, jobs: Job[]): Promise<Job[]> {
    if (!jobs.some((job) => job.flow?.family)) return jobs;
    return await Promise.all(jobs.map((job) => expandFamily(this.#db.kv, keys, job)));
  }
}
