// The queue scripts, one set per lease clock (two SHAs per script in all; a store uses one set).
import { CLAIM } from "./lua/claim.ts";
import { COMMON } from "./lua/common.ts";
import { ENQUEUE, ENQUEUE_FLOW } from "./lua/enqueue.ts";
import { WORKFLOW } from "./lua/workflow.ts";
import { FINISH } from "./lua/finish.ts";
import { LEASE_CLOCKS, type LeaseClock } from "./lua/lease-clock.ts";
import { EXTEND_LEASES, LOG, PROGRESS, RELEASE, STEP } from "./lua/leases.ts";
import { CANCEL, CLEAN, REMOVE, RETRY, SET_PAUSED } from "./lua/manage.ts";
import { COUNTS, GET, LIST } from "./lua/read.ts";
import { RECOVER_STALLED } from "./lua/stalled.ts";
import { LuaScript } from "./scripts.ts";

/**
 * Every queue script on the prelude of one lease clock. `cluster`: for a Redis Cluster (events by
 * sharded pub/sub); `slotTag`: the hash tag all the store's queues share ('' = none).
 */
function queueScripts(clock: LeaseClock, cluster: boolean, slotTag: string) {
  let common = cluster ? COMMON.replace("local PUBLISH, NUMSUB = 'PUBLISH', 'NUMSUB'", "local PUBLISH, NUMSUB = 'SPUBLISH', 'SHARDNUMSUB'") : COMMON;
  // The tag is checked by the store's options (letters, digits, . _ -): safe inside a Lua string.
  if (slotTag !== "") common = common.replace("local SLOT_TAG = ''", `local SLOT_TAG = '${slotTag}'`);
  const prelude = LEASE_CLOCKS[clock] + common + WORKFLOW;
  const script = (name: string, body: string) => new LuaScript(name, body, prelude);
  return {
    enqueue: script("enqueue", ENQUEUE),
    enqueueFlow: script("enqueue-flow", ENQUEUE_FLOW),
    claim: script("claim", CLAIM),
    finish: script("finish", FINISH),
    extendLeases: script("extend-leases", EXTEND_LEASES),
    release: script("release", RELEASE),
    progress: script("progress", PROGRESS),
    log: script("log", LOG),
    step: script("step", STEP),
    recoverStalled: script("recover-stalled", RECOVER_STALLED),
    cancel: script("cancel", CANCEL),
    retry: script("retry", RETRY),
    remove: script("remove", REMOVE),
    clean: script("clean", CLEAN),
    setPaused: script("set-paused", SET_PAUSED),
    get: script("get", GET),
    list: script("list", LIST),
    counts: script("counts", COUNTS),
  };
}

export type QueueScripts = ReturnType<typeof queueScripts>;

const scriptSets = new Map<string, QueueScripts>();

/** The scripts a store runs, by its lease clock, whether its client is a Redis Cluster's, and its slot tag. */
export function scriptsFor(clock: LeaseClock, cluster: boolean, slotTag = ""): QueueScripts {
  const key = `${clock} ${cluster} ${slotTag}`;
  let scripts = scriptSets.get(key);
  if (!scripts) scriptSets.set(key, scripts = queueScripts(clock, cluster, slotTag));
  return scripts;
}

/** Each queue's keys, in the order lua/common.ts gives them to every script. */
export const QUEUE_KEYS = ["waiting", "delayed", "active", "completed", "failed", "dead", "cancelled", "dedup", "meta", "waiting-children"] as const;
