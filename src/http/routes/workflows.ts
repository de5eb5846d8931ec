import * as v from "valibot";
import type { Conveyor } from "../../conveyor.ts";
import { batchProgress } from "../../core/flow.ts";
import { NameSchema } from "../../core/names.ts";
import {
  type JobLookup,
  NamedBatchSchema,
  NamedChainSchema,
  NamedFlowSchema,
  resolveBatch,
  resolveChain,
  resolveFlow,
  type SpecContext,
  startBatch,
  startChain,
  startFlow,
} from "../../core/workflow-spec.ts";
import { type Caller, requireScope } from "../auth.ts";
import { HttpError } from "../errors.ts";
import { declaredQueue } from "../queues.ts";
import { StacksQuery } from "../reader-access.ts";
import { canSee } from "../permissions.ts";
import { type Route, route } from "../route.ts";
import { actor } from "./jobs.ts";

const QueueParams = v.object({ queue: NameSchema });
const JobParams = v.object({ queue: NameSchema, id: v.pipe(v.string(), v.minLength(1), v.maxLength(200)) });

/**
 * Job definitions as this server has them, looked up and never made: a name on a queue no code
 * declared is unknown, like a name the queue lacks.
 */
export const declaredLookup = (conveyor: Conveyor): JobLookup => (queue, name) => conveyor.queues.get(queue)?.definitions.get(name);

/**
 * Chains, flows and batches by job name (core/workflow-spec.ts): the path's queue is where the
 * chain starts, the flow's root or the batch lives; a job may name another queue, and the
 * caller then needs `jobs:write` there too, checked before any name is looked up. A batch is
 * cancelled as a job: `POST /queues/:queue/jobs/:id/cancel`.
 */
export function workflowRoutes(conveyor: Conveyor): Route[] {
  const context = (queue: string, caller: Caller): SpecContext => {
    declaredQueue(conveyor, queue);
    return { queue, lookup: declaredLookup(conveyor), authorize: (other) => requireScope(caller, "jobs:create", other), path: "body" };
  };
  const notFound = (what: string) => new HttpError(404, "JOB_NOT_FOUND", `No ${what}`);
  return [
    route({
      method: "post", path: "/queues/:queue/chains", tag: "workflows", scope: "jobs:write", permission: "jobs:create", status: 201,
      summary: "Enqueue a chain: its first step now, each next one when the step before ends",
      params: QueueParams, body: NamedChainSchema,
      handle: async ({ params, body, caller, permissions }) => ({
        job: await startChain(conveyor, resolveChain(body, context(params.queue, caller)), actor(caller, permissions)),
      }),
    }),
    route({
      method: "post", path: "/queues/:queue/flows", tag: "workflows", scope: "jobs:write", permission: "jobs:create", status: 201,
      summary: "Enqueue a flow: a parent and its children (nested) in one atomic call",
      params: QueueParams, body: NamedFlowSchema,
      handle: async ({ params, body, caller, permissions }) => ({
        flow: await startFlow(conveyor, resolveFlow(body, context(params.queue, caller)), actor(caller, permissions)),
      }),
    }),
    route({
      method: "get", path: "/queues/:queue/flows/:id", tag: "workflows", scope: "jobs:read", summary: "A flow's jobs as they are now, from this job down",
      params: JobParams, query: v.strictObject(StacksQuery),
      handle: async ({ params, grant }) => {
        declaredQueue(conveyor, params.queue);
        const flow = await conveyor.getFlow(params.queue, params.id);
        const links = flow?.job.flow;
        if (!flow || !(links?.family || links?.parent) || !canSee(grant, flow.job.createdBy)) throw notFound(`flow job ${params.id} in queue "${params.queue}"`);
        return { flow };
      },
    }),
    route({
      method: "post", path: "/queues/:queue/batches", tag: "workflows", scope: "jobs:write", permission: "jobs:create", status: 201,
      summary: "Enqueue a batch: jobs that run independently, then/catch/finally once they have all ended",
      params: QueueParams, body: NamedBatchSchema,
      handle: async ({ params, body, caller, permissions }) => ({
        batch: await startBatch(conveyor, resolveBatch(body, context(params.queue, caller)), actor(caller, permissions)),
      }),
    }),
    route({
      method: "get", path: "/queues/:queue/batches/:id", tag: "workflows", scope: "jobs:read", summary: "A batch's progress: total, processed, pending, failed",
      params: JobParams,
      handle: async ({ params, grant }) => {
        const job = await declaredQueue(conveyor, params.queue).get(params.id);
        const batch = job && canSee(grant, job.createdBy) && batchProgress(job);
        if (!batch) throw notFound(`batch ${params.id} in queue "${params.queue}"`);
        return { batch };
      },
    }),
  ];
}
