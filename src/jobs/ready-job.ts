// A ready-made job: its definition (to enqueue, schedule, or name over HTTP) and its handler.
import type { JobDefinition } from "../core/define-job.ts";
import type { JobHandler } from "../core/worker-attempt.ts";
import type { Worker } from "../core/worker.ts";

export interface ReadyJob<D extends JobDefinition> {
  /** Enqueue with `queue.add(job.definition, payload)`; the HTTP app and schedules find it by `definition.name`. */
  readonly definition: D;
  readonly handler: JobHandler<D>;
  /** `worker.handle(definition, handler)`. */
  register(worker: Worker): Worker;
}

export function readyJob<D extends JobDefinition>(definition: D, handler: JobHandler<D>): ReadyJob<D> {
  return Object.freeze({ definition, handler, register: (worker: Worker) => worker.handle(definition, handler) });
}
