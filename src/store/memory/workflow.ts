import type { ConveyorEventData } from "../../core/events.ts";
import { FINISHED_STATES, type Job, type NewJob } from "../../core/job.ts";
import * as machine from "../../core/transitions.ts";
import { aftermath, type Effect, flowLinks, settleChild } from "../../core/workflow-rules.ts";
import type { FlowNode, JobRef } from "../../core/workflow.ts";
import { copyJob, type JobRecord, newJobRecord } from "./job-record.ts";
import type { QueueData } from "./queue-data.ts";

/**
 * Workflows in memory: a flow's jobs added at once, and the effects of a job that ended (next
 * chain step, parent bookkeeping, children cancelled) applied before the call that ended it
 * returns, which in one process is as atomic as the transition itself.
 */

export interface MemoryQueues {
  /** The queue's data, made on first use. */
  queue(name: string): QueueData;
  /** The queue's data, if it exists. */
  find(name: string): QueueData | undefined;
}

/** Events of one call, per queue, delivered together once the call's changes are all in place. */
export class EventBatch {
  readonly #byQueue = new Map<QueueData, ConveyorEventData[]>();

  for(q: QueueData): ConveyorEventData[] {
    let events = this.#byQueue.get(q);
    if (!events) this.#byQueue.set(q, events = []);
    return events;
  }

  deliver(): void {
    for (const [q, events] of this.#byQueue) q.events.deliver(events);
  }
}

/** Adds one new job to a queue (waiting or delayed by its runAt). */
export function insertJob(q: QueueData, input: NewJob, id: string, now: number, events: ConveyorEventData[] | null): JobRecord {
  const job = newJobRecord(input, id, q.name);
  q.jobs.set(job.id, job);
  if (job.dedupKey !== null) q.dedup.set(job.dedupKey, job.id);
  q.schedule(job, now, true);
  if (events && q.wants("enqueued")) {
    events.push({ type: "enqueued", queue: q.name, at: now, jobId: job.id, name: job.name, runAt: job.runAt, priority: job.priority });
  }
  return job;
}

/** Applies what jobs that ended set off, and what that sets off in turn, until nothing is left. */
export function applyEffects(queues: MemoryQueues, first: readonly Effect[], now: number, batch: EventBatch): void {
  const work: Effect[] = [...first];
  for (let effect = work.shift(); effect !== undefined; effect = work.shift()) {
    if (effect.kind === "enqueue") {
      const q = queues.queue(effect.queue);
      insertJob(q, effect.job, String(++q.nextId), now, batch.for(q));
      continue;
    }
    const ref: JobRef = effect.kind === "settle" ? effect.parent : effect.ref;
    const q = queues.find(ref.queue);
    const job = q?.jobs.get(ref.id);
    if (!q || !job) continue;
    const transition = effect.kind === "settle"
      ? settleChild(job, effect.parent, effect.child, now)
      : machine.cancel(job, now, null);
    if (transition === null || typeof transition === "string") continue;
    q.apply(job, transition, now, batch.for(q));
    if (FINISHED_STATES.has(transition.state)) work.push(...aftermath(job, now));
  }
}

/** A flow's jobs, parents before children: ids first (a parent lists its children), then the records. */
export function enqueueFlow(queues: MemoryQueues, nodes: readonly FlowNode[], now: number): Job[] {
  const refs: JobRef[] = nodes.map((node) => ({ queue: node.queue, id: String(++queues.queue(node.queue).nextId) }));
  const flows = flowLinks(nodes, refs);
  const batch = new EventBatch();
  const jobs = nodes.map((node, i) => {
    const q = queues.queue(node.queue);
    const flow = flows[i]!;
    const input: NewJob = { ...node.job, flow };
    if (flow.family === null) return insertJob(q, input, refs[i]!.id, now, batch.for(q));
    const job = newJobRecord(input, refs[i]!.id, q.name);
    q.jobs.set(job.id, job);
    job.seq = q.nextSeq();
    q.move(job, "waiting-children", true);
    return job;
  });
  batch.deliver();
  return jobs.map(copyJob);
}
