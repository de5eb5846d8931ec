import { initialJob, type Job, type JobState, type NewJob, NO_STEPS, withStep } from "../../core/job.ts";
import { decodeFlow, encodeChain, type FlowFields, retentionField } from "./flow-codec.ts";
import type { FinishRequest } from "../../core/store-contract.ts";
import type { FlowNode } from "../../core/workflow.ts";
import { flowLinks } from "../../core/workflow-rules.ts";

/** Fields of one job in the enqueue script's ARGV. */
export const NEW_JOB_WIDTH = 8;

const orEmpty = (value: string | number | null) => (value === null ? "" : String(value));

/** Job data must survive JSON; `undefined` travels as ''. */
export function toJson(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value);
}

/** The immutable part of a job, stored as one JSON field that only JavaScript reads. */
type JobData = Pick<
  Job,
  | "name"
  | "payload"
  | "priority"
  | "createdAt"
  | "maxAttempts"
  | "backoff"
  | "timeoutMs"
  | "dedupKey"
  | "removeOnComplete"
  | "removeOnFail"
  | "deadLetter"
  | "createdBy"
>;

export function encodeNewJob(job: NewJob): string[] {
  const data: JobData = {
    name: job.name,
    payload: job.payload,
    priority: job.priority,
    createdAt: job.createdAt,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    dedupKey: job.dedupKey,
    removeOnComplete: job.removeOnComplete,
    removeOnFail: job.removeOnFail,
    deadLetter: job.deadLetter,
    createdBy: job.createdBy,
  };
  const ret = retentionField(job);
  return [orEmpty(job.id), job.name, String(job.priority), String(job.runAt), orEmpty(job.dedupKey), ret, JSON.stringify(data), encodeChain(job.flow?.chain)];
}

/** What the scripts return for a job: its hash as a flat field/value list, its log lines, its id. */
export type Snapshot = [flatHash: string[], logs: string[], id: string, steps?: string[], outcomes?: string[]];

const num = (value: string | undefined) => (value === undefined || value === "" ? null : Number(value));
const json = (value: string | undefined) => (value === undefined || value === "" ? undefined : JSON.parse(value));

export function decodeJob(queue: string, [flat, logs, id, stepsFlat, outcomes]: Snapshot, parsed?: JobData, links?: FlowFields): Job {
  // One pass over the flat reply into fixed locals: a keyed object here went to dictionary mode
  // and was a good share of a busy worker's garbage.
  let data = "", state = "", seq = "0", runAt = "", att = "0", prog: string | undefined, res: string | undefined;
  let err: string | undefined, start: string | undefined, end: string | undefined, leaseText = "", stalls = "0";
  let dead: string | undefined, chg: string | undefined, flow: FlowFields | undefined;
  for (let i = 0; i < flat.length; i += 2) {
    const value = flat[i + 1]!;
    switch (flat[i]) {
      case "data": data = value; break;
      case "state": state = value; break;
      case "seq": seq = value; break;
      case "runAt": runAt = value; break;
      case "att": att = value; break;
      case "prog": prog = value; break;
      case "res": res = value; break;
      case "err": err = value; break;
      case "start": start = value; break;
      case "end": end = value; break;
      case "lease": leaseText = value; break;
      case "stalls": stalls = value; break;
      case "dead": dead = value; break;
      case "chg": chg = value; break;
      case "wf": flow ??= {}; break;
      case "chain": case "prev": case "par": case "fkids": case "fpend": case "ffail": case "fbatch":
        (flow ??= {})[flat[i] as keyof FlowFields] = value;
        break;
    }
  }
  const d = parsed ?? JSON.parse(data) as JobData;
  const lease = leaseText ? /^(\S+) (\S+) (.*)$/.exec(leaseText) : null;
  return {
    id,
    queue,
    name: d.name,
    payload: d.payload,
    state: state as JobState,
    priority: d.priority,
    seq: Number(seq),
    createdAt: d.createdAt,
    runAt: Number(runAt),
    attemptsMade: Number(att),
    maxAttempts: d.maxAttempts,
    backoff: d.backoff,
    timeoutMs: d.timeoutMs,
    dedupKey: d.dedupKey,
    progress: json(prog) ?? null,
    logs,
    result: json(res),
    lastError: json(err) ?? null,
    startedAt: num(start),
    finishedAt: num(end),
    lease: lease ? { token: lease[1]!, expiresAt: Number(lease[2]), workerId: lease[3]! } : null,
    stalls: Number(stalls),
    removeOnComplete: d.removeOnComplete,
    removeOnFail: d.removeOnFail,
    deadLetter: d.deadLetter,
    dead: json(dead) ?? null,
    createdBy: d.createdBy ?? null,
    changedBy: json(chg) ?? null,
    steps: stepsFlat && stepsFlat.length > 0 ? decodeSteps(stepsFlat) : NO_STEPS,
    flow: flow === undefined ? null : decodeFlow(links ? { ...flow, ...links } : flow, outcomes),
  };
}

/** A job the enqueue script just created, built from what was sent rather than read back. */
export function createdJob(queue: string, input: NewJob, id: string, seq: number, state: JobState): Job {
  const payload = input.payload === undefined ? undefined : JSON.parse(JSON.stringify(input.payload));
  const job = initialJob(input, id, queue, seq, state, payload);
  return job.flow === null ? job : { ...job, flow: JSON.parse(JSON.stringify(job.flow)) };
}

/** A job the claim script sent as one JSON text (Lua's cjson writes an empty list as {}). */
export function unpackClaimed(queue: string, text: string): Job {
  // [data, links, [flat (those fields emptied), logs, id, steps?, outcomes?]]: the job's data and a
  // workflow job's links come as the JSON they are stored as, not escaped into strings.
  const [data, links, [flat, logs, id, steps, outcomes]] = JSON.parse(text) as [
    JobData,
    FlowFields,
    [string[], string[] | Record<string, never>, string, unknown?, unknown?],
  ];
  const snapshot: Snapshot = [flat, Array.isArray(logs) ? logs : [], id, Array.isArray(steps) ? steps : undefined, Array.isArray(outcomes) ? outcomes : undefined];
  return decodeJob(queue, snapshot, data, links);
}

function decodeSteps(flat: readonly string[]): Record<string, unknown> {
  let steps: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) steps = withStep(steps, flat[i]!, json(flat[i + 1]));
  return steps;
}

/** The finish script's ARGV after the common three: the claim asked for, then 7 fields per outcome. */
export function finishArgs(request: FinishRequest): (string | number)[] {
  const args: (string | number)[] = [request.claim?.limit ?? 0, request.claim?.leaseMs ?? 0, request.claim?.workerId ?? "", request.outcomes.length];
  for (const o of request.outcomes) {
    if (o.kind === "completed") args.push(o.id, o.token, "completed", toJson(o.result), "", "", "");
    else args.push(o.id, o.token, "failed", "", JSON.stringify(o.error), o.retryAt === null ? "" : o.retryAt, o.reason ?? "attempts-exhausted");
  }
  return args;
}

/** The enqueue-flow script's ARGV after the common three: the node count, then 10 fields per node. */
export function flowArgs(nodes: readonly FlowNode[]): (string | number)[] {
  const args: (string | number)[] = [nodes.length];
  for (const node of nodes) {
    const [, name, priority, runAt, , ret, data, chain] = encodeNewJob(node.job);
    args.push(node.queue, node.parent ?? "", node.onFailure, node.batch ? "1" : "0", name!, priority!, runAt!, ret!, data!, chain!);
  }
  return args;
}

/** A flow's jobs built from what was sent, as enqueue does: the script answers id, seq and state per job. */
export function flowJobs(nodes: readonly FlowNode[], placed: readonly (string | number)[]): Job[] {
  const refs = nodes.map((node, i) => ({ queue: node.queue, id: String(placed[3 * i]) }));
  const flows = flowLinks(nodes, refs);
  return nodes.map((node, i) =>
    createdJob(node.queue, { ...node.job, flow: flows[i]! }, refs[i]!.id, Number(placed[3 * i + 1]), placed[3 * i + 2] as JobState)
  );
}
