import type { Conveyor } from "../conveyor.ts";
import type { Queue } from "../core/queue.ts";
import { HttpError } from "./errors.ts";

/**
 * The queue of this name if the server's code declared it (`conveyor.queue(name)`, a worker, a
 * schedule's target), else 404. Requests read queues and never make them: `conveyor.queue()`
 * would add every name a client sends to the queues listed by /queues, /health and /metrics,
 * for the life of the process. A queue has jobs only if code declared it somewhere, so a
 * process serving queues that other processes fill declares them too.
 */
export function declaredQueue(conveyor: Conveyor, name: string): Queue {
  const queue = conveyor.queues.get(name);
  if (!queue) throw new HttpError(404, "QUEUE_NOT_FOUND", `No queue "${name}" is declared in this server`);
  return queue;
}
