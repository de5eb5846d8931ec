import * as v from "valibot";
import { Queue } from "./queue.ts";
import { parseArgument } from "./validation.ts";
import type { WorkerOrder } from "./worker-options.ts";

const firstRepeat = (queues: readonly Queue[]) => queues.find((queue, i) => queues.findIndex((q) => q.name === queue.name) !== i);

const QueueListSchema = v.pipe(
  v.array(v.instance(Queue)),
  v.check((queues) => queues.length > 0, "at least one queue"),
  v.check((queues) => firstRepeat(queues) === undefined, (issue) => `each queue once ("${firstRepeat(issue.input as Queue[])!.name}" is listed twice)`),
  // One clock times every lease and wake-up, and one store keeps the jobs a worker moves.
  v.check(
    (queues) => queues.every((q) => q.context.store === queues[0]!.context.store && q.context.clock === queues[0]!.context.clock),
    "queues of one store and clock (from one conveyor)",
  ),
);

/** A worker's queues in the order it serves them; throws a TypeError saying what was wrong. */
export function workerQueues(queues: Queue | readonly Queue[]): readonly Queue[] {
  return parseArgument(QueueListSchema, Array.isArray(queues) ? queues : [queues], "worker queues");
}

/**
 * Each queue's weight, in the worker's order, for `order: { weights }`; null for strict order.
 * A weight for a queue the worker does not serve is a RangeError: a typo would otherwise leave
 * the intended queue at weight 1 without a word.
 */
export function queueWeights(queues: readonly Queue[], order: WorkerOrder): number[] | null {
  if (order === "strict") return null;
  const names = queues.map((q) => q.name);
  const unknown = Object.keys(order.weights).find((name) => !names.includes(name));
  if (unknown !== undefined) {
    throw new RangeError(`order.weights names queue "${unknown}", which this worker does not serve; expected one of ${names.map((n) => `"${n}"`).join(", ")}`);
  }
  return names.map((name) => Object.hasOwn(order.weights, name) ? order.weights[name]! : 1);
}
