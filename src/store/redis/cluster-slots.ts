import { ConveyorError } from "../../core/errors.ts";
import type { NewJob } from "../../core/job.ts";
import type { FlowNode } from "../../core/workflow.ts";

/**
 * On a Redis Cluster each queue has its own hash slot unless the store shares one (slotTag), and
 * a script may touch one slot only. A workflow spanning queues would fail inside its script,
 * maybe after part of it was written (a completed step whose next step never came): refuse it
 * before anything is sent instead.
 */
export function assertOneSlot(queues: Iterable<string>, what: string): void {
  let first: string | undefined;
  for (const queue of queues) {
    first ??= queue;
    if (queue !== first) {
      throw new ConveyorError(
        "UNSAFE_SETUP",
        `${what} spans queues "${first}" and "${queue}", which a Redis Cluster keeps in different hash slots: give the RedisStore a slotTag (all its queues in one slot), or keep the workflow to one queue`,
      );
    }
  }
}

/** Every queue a job's chain can reach: its own and each step's. */
export function* chainQueues(queue: string, job: NewJob): Iterable<string> {
  yield queue;
  const chain = job.flow?.chain;
  if (!chain) return;
  for (const step of chain.then) yield step.queue;
  if (chain.catch) yield chain.catch.queue;
  if (chain.finally) yield chain.finally.queue;
}

export const flowQueues = (nodes: readonly FlowNode[]) => nodes.map((node) => node.queue);
