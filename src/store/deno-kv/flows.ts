import { ConveyorError } from "../../core/errors.ts";
import { initialJob, type Job } from "../../core/job.ts";
import * as machine from "../../core/transitions.ts";
import type { FlowNode, JobFlow, JobRef } from "../../core/workflow.ts";
import { backoff, type KvQueueAccess, MAX_CONFLICTS } from "./access.ts";
import { chunksOf, storedFamily } from "./family.ts";
import type { QueueKeys, StoreKeys } from "./keys.ts";
import { collect, counterValue, KV_LIMITS, type KvEntry, type KvKey } from "./kv.ts";
import { approxSize } from "./size.ts";
import type { Tx } from "./tx.ts";

/**
 * A flow's jobs in Deno KV, which caps one commit at 10 checks, 1,000 writes and 800 KiB.
 *
 * A flow that fits one commit (most) is written in one, ids included. A bigger one (up to
 * 10,000 jobs) goes in four steps, each safe to die after:
 * 1. ids are reserved from each queue's counter (a crash leaves a gap in the ids, no more);
 * 2. its jobs are staged, slice by slice, under a key of their own that nothing reads, with a
 *    draft marker (a crash leaves the draft; a sweep deletes drafts older than an hour);
 * 3. one commit seals it: the draft goes, an outbox entry names the flow, and the gate of
 *    each of its queues goes up by one. From here the flow will be written whoever finishes it;
 * 4. each commit moves a slice from staging into the queues, checking and advancing the
 *    entry's cursor (so no slice moves twice); the last one deletes the entry and lowers the gates.
 *    Any process may do these commits: the producer does them at once, and a producer that
 *    died is replaced by the next call that meets a gate above 0, or by a sweep.
 * The guarantee: no job of a flow is claimed, cancelled or removed before the whole flow is
 * in (`get`, `list` and `counts` may see part of it meanwhile). Those calls read the gate of
 * the job's queue after reading a job that has a `flow`: the gate went up before any job of an
 * open flow was written, and goes down in the commit that writes its last, so a gate at 0 read
 * after the job proves the job's flow whole; above 0, they finish the open flows and read again.
 * Jobs are added without a check on their key: each id was reserved from its queue's counter.
 */

/** The outbox entry of a sealed flow. */
interface FlowHeader {
  readonly kind: "flow";
  readonly flowId: string;
  readonly items: number;
  /** Index of the first staged item not in its queue yet. */
  readonly next: number;
  readonly queues: readonly string[];
  readonly now: number;
}

/** One staged write: a job, or a chunk of a parent's children. */
type FlowItem =
  | { readonly kind: "job"; readonly job: Job }
  | {
    readonly kind: "children";
    readonly queue: string;
    readonly id: string;
    readonly chunk: number;
    readonly refs: readonly JobRef[];
  };

/** A flow at most this big is written in one commit. */
const ONE_COMMIT_JOBS = 100;
const MAX_BYTES = 400_000;
const MAX_MUTATIONS = KV_LIMITS.mutations - 200;
/** A draft older than this has lost its producer. */
const DRAFT_TTL_MS = 3_600_000;
/** Queues one big flow may span (each gate is one write of the commits that open and close it). */
const MAX_FLOW_QUEUES = 200;

export class FlowWriter {
  readonly #db: KvQueueAccess;
  readonly #store: StoreKeys;

  constructor(db: KvQueueAccess, store: StoreKeys) {
    this.#db = db;
    this.#store = store;
  }

  async enqueue(nodes: readonly FlowNode[], now: number): Promise<Job[]> {
    const queues = [...new Set(nodes.map((node) => node.queue))];
    if (nodes.length === 0) return [];
    if (nodes.length <= ONE_COMMIT_JOBS && queues.length < KV_LIMITS.checks && approxSize(nodes) <= MAX_BYTES / 2) {
      let jobs: Job[] = [];
      await this.#db.transact(queues[0]!, now, async (tx) => {
        const counters = await Promise.all(queues.map((queue) => this.#db.get<number>(this.#db.queue(queue).nextId)));
        const built = buildFlow(
          nodes,
          new Map(queues.map((queue, i) => [queue, counters[i]!.value ?? 0])),
          now,
          () => this.#db.nextSeq(now),
        );
        queues.forEach((queue, i) => {
          const keys = this.#db.queue(queue);
          tx.check(keys.nextId, counters[i]!.versionstamp).set(keys.nextId, built.last.get(queue)!);
        });
        for (const item of built.items) this.#write(tx, item, now);
        jobs = built.jobs;
      });
      return jobs;
    }
    if (queues.length > MAX_FLOW_QUEUES) {
      throw new RangeError(`A flow may span at most ${MAX_FLOW_QUEUES} queues on Deno KV, got ${queues.length}`);
    }
    const built = buildFlow(nodes, await this.#reserve(nodes, queues, now), now, () => this.#db.nextSeq(now));
    const key = await this.#stage(built.items, queues, now);
    await this.materialise(key);
    return built.jobs;
  }

  /** True when the queue had flows being written: they are finished now, and what was read must be read again. */
  async gate(keys: QueueKeys): Promise<boolean> {
    if (counterValue((await this.#db.get(keys.gate)).value) === 0) return false;
    // Any open flow, not only this queue's: there are few, and finishing one is finishing it for all.
    for (let waited = false;; waited = true) {
      const open = await collect(this.#db.kv.list({ prefix: this.#store.flows }, { limit: 16 }));
      if (open.length === 0) return waited;
      for (const entry of open) await this.materialise(entry.key);
    }
  }

  /** Moves a sealed flow's staged jobs into their queues, a slice per commit, until its entry is gone. */
  async materialise(key: KvKey): Promise<void> {
    for (let conflicts = 0; conflicts < MAX_CONFLICTS;) {
      const entry = await this.#db.get<FlowHeader>(key);
      const header = entry.value;
      if (header === null) return;
      const prefix = this.#store.staged(header.flowId);
      const staged = await collect(
        this.#db.kv.list<FlowItem>({ start: [...prefix, header.next], end: [...prefix, header.items] }, { limit: 300 }),
      );
      const tx = this.#db.tx(this.#db.queue(header.queues[0]!));
      tx.check(key, entry.versionstamp);
      let next = staged.length === 0 ? header.items : header.next;
      let bytes = 0;
      for (const item of staged) {
        bytes += approxSize(item.value);
        if (next > header.next && (bytes > MAX_BYTES || tx.mutations > MAX_MUTATIONS)) break;
        this.#write(tx, item.value, header.now);
        tx.delete(item.key);
        next = (item.key[item.key.length - 1] as number) + 1;
      }
      if (next >= header.items) {
        tx.delete(key);
        for (const queue of header.queues) tx.sum(this.#db.queue(queue).gate, -1);
      } else {
        tx.set(key, { ...header, next });
      }
      if (await this.#db.commit(tx, header.now)) conflicts = 0;
      else await backoff(conflicts++);
    }
    throw new ConveyorError("STORE_CONFLICT", `Gave up writing a flow after ${MAX_CONFLICTS} conflicting commits`);
  }

  /** Deletes drafts whose producer is gone: marked dead first (so a late seal fails), then their staged items. */
  async sweepDrafts(): Promise<void> {
    const now = this.#db.clock.now();
    const drafts = await collect(this.#db.kv.list<{ at: number; dead?: boolean }>({ prefix: this.#store.drafts }));
    for (const draft of drafts) {
      if (!draft.value.dead && draft.value.at > now - DRAFT_TTL_MS) continue;
      if (
        !draft.value.dead &&
        !(await this.#db.kv.atomic().check(draft).set(draft.key, { ...draft.value, dead: true }).commit()).ok
      ) continue;
      const prefix = this.#store.staged(draft.key[draft.key.length - 1] as string);
      for (let staged = await this.#list(prefix); staged.length > 0; staged = await this.#list(prefix)) {
        const op = this.#db.kv.atomic();
        for (const item of staged) op.delete(item.key);
        await op.commit();
      }
      await this.#db.kv.atomic().delete(draft.key).commit();
    }
  }

  #list(prefix: KvKey): Promise<KvEntry<unknown>[]> {
    return collect(this.#db.kv.list({ prefix }, { limit: MAX_MUTATIONS }));
  }

  #write(tx: Tx, item: FlowItem, now: number): void {
    if (item.kind === "children") {
      tx.set([...this.#db.queue(item.queue).children(item.id), item.chunk], item.refs);
      return;
    }
    const job = item.job;
    tx.insert(job);
    if (job.state !== "waiting-children") {
      tx.emit({
        type: "enqueued",
        queue: job.queue,
        at: now,
        jobId: job.id,
        name: job.name,
        runAt: job.runAt,
        priority: job.priority,
      });
    }
  }

  /** Step 1: ids for each queue's jobs, from its counter; returns the id before each queue's first. */
  async #reserve(nodes: readonly FlowNode[], queues: readonly string[], now: number): Promise<Map<string, number>> {
    const wanted = new Map<string, number>();
    for (const node of nodes) wanted.set(node.queue, (wanted.get(node.queue) ?? 0) + 1);
    const first = new Map<string, number>();
    for (let i = 0; i < queues.length; i += KV_LIMITS.checks) {
      const group = queues.slice(i, i + KV_LIMITS.checks);
      await this.#db.transact(group[0]!, now, async (tx) => {
        for (const queue of group) {
          const keys = this.#db.queue(queue);
          const counter = await this.#db.get<number>(keys.nextId);
          first.set(queue, counter.value ?? 0);
          tx.check(keys.nextId, counter.versionstamp).set(keys.nextId, (counter.value ?? 0) + wanted.get(queue)!);
        }
      });
    }
    return first;
  }

  /** Steps 2 and 3: the items staged under a draft, then sealed. Returns the flow's outbox key. */
  async #stage(items: readonly FlowItem[], queues: readonly string[], now: number): Promise<KvKey> {
    const flowId = crypto.randomUUID();
    const draftKey = this.#store.draft(flowId);
    const prefix = this.#store.staged(flowId);
    await this.#db.kv.atomic().set(draftKey, { at: this.#db.clock.now() }).commit();
    for (let start = 0; start < items.length;) {
      const op = this.#db.kv.atomic();
      let bytes = 0;
      let count = 0;
      for (; start < items.length && count < MAX_MUTATIONS; start++, count++) {
        bytes += approxSize(items[start]);
        if (count > 0 && bytes > MAX_BYTES) break;
        op.set([...prefix, start], items[start]);
      }
      await op.commit();
    }
    const draft = await this.#db.get<{ dead?: boolean }>(draftKey);
    const key = this.#store.flow(flowId);
    const header: FlowHeader = { kind: "flow", flowId, items: items.length, next: 0, queues, now };
    const tx = this.#db.tx(this.#db.queue(queues[0]!)).check(draftKey, draft.versionstamp).delete(draftKey).set(
      key,
      header,
    );
    for (const queue of queues) tx.sum(this.#db.queue(queue).gate, 1);
    if (draft.value === null || draft.value.dead || !await this.#db.commit(tx, now)) {
      throw new ConveyorError(
        "STORE_CONFLICT",
        "A flow's staging was swept before it was sealed (it took over an hour)",
      );
    }
    return key;
  }
}

/**
 * A flow's jobs, parents before children, with ids counted on from each queue's counter: the
 * jobs as the caller gets them (whole families), and the items the store writes (families as
 * stored, children in chunks).
 */
function buildFlow(nodes: readonly FlowNode[], counters: Map<string, number>, now: number, seq: () => number) {
  const last = new Map(counters);
  const refs: JobRef[] = nodes.map((node) => {
    const id = last.get(node.queue)! + 1;
    last.set(node.queue, id);
    return { queue: node.queue, id: String(id) };
  });
  const children = nodes.map(() => [] as JobRef[]);
  nodes.forEach((node, i) => {
    if (node.parent === null) return;
    if (!(node.parent >= 0 && node.parent < i)) {
      throw new RangeError(`A flow node's parent must come before it: node ${i} names ${node.parent}`);
    }
    children[node.parent]!.push(refs[i]!);
  });
  const jobs: Job[] = [];
  const items: FlowItem[] = [];
  nodes.forEach((node, i) => {
    const parent = node.parent === null ? null : refs[node.parent]!;
    const kids = children[i]!;
    const flow: JobFlow = {
      chain: node.job.flow?.chain ?? null,
      previous: null,
      parent: parent && { queue: parent.queue, id: parent.id, onFailure: node.onFailure },
      family: kids.length === 0
        ? null
        : { children: kids, pending: kids.length, failed: 0, outcomes: [], batch: node.batch },
    };
    const state = kids.length > 0 ? "waiting-children" : machine.pendingState(node.job.runAt, now);
    const job = initialJob({ ...node.job, flow }, refs[i]!.id, node.queue, seq(), state, node.job.payload);
    jobs.push(job);
    if (flow.family === null) {
      items.push({ kind: "job", job });
      return;
    }
    items.push({ kind: "job", job: { ...job, flow: { ...flow, family: storedFamily(flow.family) } } });
    chunksOf(kids).forEach((chunk, no) =>
      items.push({ kind: "children", queue: node.queue, id: job.id, chunk: no, refs: chunk })
    );
  });
  return { jobs, items, last };
}
