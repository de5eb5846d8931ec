import type { ChainRest, ChainStep, ChildOutcome, JobFlow, JobRef } from "../../core/workflow.ts";

/**
 * Workflows in a job's hash. The scripts change chains and families with cjson, which rounds
 * numbers to 14 digits: so every piece of job data (payloads, results) travels inside them as
 * JSON text in a string, which cjson passes through untouched.
 *
 * A chain step is `{ q, name, prio, ret, delay, inherit, payload?, rest }`: the script builds
 * the new job's data as `{"payload":P,"createdAt":NOW,` .. rest, where rest is the rest of the
 * step's data (its settings) without the opening brace.
 */

interface StoredStep {
  q: string;
  name: string;
  prio: number;
  ret: string;
  delay: number;
  inherit: boolean;
  payload?: string;
  rest: string;
}

const orEmpty = (value: number | null) => (value === null ? "" : String(value));

/** The `ret` field the scripts read: "rcCount,rcAge,rfCount,rfAge,deadLetter". */
export function retentionField(job: Pick<ChainStep["job"], "removeOnComplete" | "removeOnFail" | "deadLetter">): string {
  return [job.removeOnComplete.count, job.removeOnComplete.ageMs, job.removeOnFail.count, job.removeOnFail.ageMs].map(orEmpty).join(",") +
    (job.deadLetter ? ",1" : ",0");
}

function encodeStep(step: ChainStep): StoredStep {
  const { payload, ...settings } = step.job;
  const stored: StoredStep = {
    q: step.queue,
    name: step.job.name,
    prio: step.job.priority,
    ret: retentionField(step.job),
    delay: step.delayMs,
    inherit: step.inherit,
    rest: JSON.stringify(settings).slice(1),
  };
  if (!step.inherit) stored.payload = JSON.stringify(payload ?? null);
  return stored;
}

function decodeStep(stored: StoredStep | null | undefined): ChainStep | null {
  if (!stored || typeof stored !== "object") return null;
  const settings = JSON.parse("{" + stored.rest) as Omit<ChainStep["job"], "payload">;
  const payload = stored.inherit ? null : JSON.parse(stored.payload ?? "null");
  return { queue: stored.q, job: { ...settings, payload }, delayMs: stored.delay, inherit: stored.inherit };
}

/** A chain's rest as the `chain` field holds it; '' for none. */
export function encodeChain(chain: ChainRest | null | undefined): string {
  if (!chain) return "";
  return JSON.stringify({ then: chain.then.map(encodeStep), catch: chain.catch && encodeStep(chain.catch), finally: chain.finally && encodeStep(chain.finally) });
}

type StoredChain = { then: StoredStep[] | Record<string, never>; catch: StoredStep | null; finally: StoredStep | null };

/** A field as stored (JSON text, '' for none) or already parsed. */
const parsed = <T>(value: string | T | undefined): T | null => (typeof value === "string" ? (value ? JSON.parse(value) as T : null) : value ?? null);

function decodeChain(value: string | StoredChain | undefined): ChainRest | null {
  const stored = parsed<StoredChain>(value);
  if (!stored) return null;
  // cjson writes an empty list as {}.
  const then = Array.isArray(stored.then) ? stored.then.map((s) => decodeStep(s)!) : [];
  return { then, catch: decodeStep(stored.catch), finally: decodeStep(stored.finally) };
}

/** The workflow fields of a job's hash, as decodeJob collects them (links the claim script sent as JSON come parsed). */
export interface FlowFields {
  chain?: string | StoredChain;
  prev?: string | object;
  par?: string | object;
  fkids?: string | object;
  fpend?: string;
  ffail?: string;
  fbatch?: string;
}

export function decodeFlow(fields: FlowFields, outcomes: readonly string[] | undefined): JobFlow {
  const children = parsed<JobRef[] | Record<string, never>>(fields.fkids as string | JobRef[] | undefined);
  return {
    chain: decodeChain(fields.chain),
    previous: parsed(fields.prev) as JobFlow["previous"],
    parent: parsed(fields.par) as JobFlow["parent"],
    family: children === null ? null : {
      children: Array.isArray(children) ? children : [],
      pending: Number(fields.fpend ?? 0),
      failed: Number(fields.ffail ?? 0),
      outcomes: (outcomes ?? []).map((text) => JSON.parse(text) as ChildOutcome),
      batch: fields.fbatch === "1",
    },
  };
}
