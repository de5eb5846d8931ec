// Scheduler processes on one real redis-server, SIGKILLed again and again: at random moments, and
// right after claiming a tick (before its job is enqueued). No tick loses its job; a job is
// created twice only for a tick that a killed process had claimed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type ConveyorEventData, createConveyor } from "../mod.ts";
import { RedisStore } from "../redis.ts";
import { work } from "./fixtures/work-job.ts";
import { waitUntil } from "./support/harness.ts";
import { type Child, startScript } from "./support/processes.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

let redis: RedisServer;
const children: Child[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(children.map((child) => child.kill()));
  await redis.stop();
});

const tickOf = (jobId: string) => Number(jobId.split(":").pop());
const linesOf = (output: string, word: string) => output.split("\n").filter((line) => line.startsWith(`${word} `)).map((line) => Number(line.slice(word.length + 1)));
const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

interface Node {
  readonly child: Child;
  readonly slot: number;
  exited: boolean;
  /** Died while the test ran (killed, or killed itself), not stopped at its end. */
  died: boolean;
}

test("scheduler processes killed at random and right after claiming: every tick fires, repeats only for killed claims", async () => {
  const prefix = `sched-kill-${crypto.randomUUID().slice(0, 8)}`;
  const EVERY_MS = 100;
  const TICKS = 100;
  const CLAIM_TIMEOUT_MS = 3_000;
  // This process is the worker, and jobs are deleted once completed: a tick enqueued again after
  // its job ran would be created (and announced) twice, so a repeat cannot hide.
  const conveyor = createConveyor({ store: new RedisStore({ connection: redis.url, prefix }) });
  const handled: string[] = [];
  const worker = conveyor.worker("ticks", { concurrency: 20 }).handle(work, (_payload, ctx) => void handled.push(ctx.id));
  const nodes: Node[] = [];
  let stopping = false;
  let killer: ReturnType<typeof setTimeout> | undefined;
  try {
    const created: string[] = [];
    const subscription = conveyor.store.subscribe("ticks", (event: ConveyorEventData) => {
      if (event.type === "enqueued") created.push(event.jobId);
    }, ["enqueued"]);
    await subscription.ready;
    await worker.ready();

    // The schedule's ticks are a fixed set, so the test counts ticks, not wall-clock time; a wide
    // grace keeps a tick due while every node is down (restarting) as on time.
    const startAt = Math.ceil((Date.now() + 1_500) / EVERY_MS) * EVERY_MS;
    const endAt = startAt + (TICKS - 1) * EVERY_MS;
    const expected = Array.from({ length: TICKS }, (_, i) => `schedule:beat:${startAt + i * EVERY_MS}`);
    const env = {
      REDIS_URL: redis.url,
      PREFIX: prefix,
      EVERY_MS: String(EVERY_MS),
      START_AT: String(startAt),
      END_AT: String(endAt),
      RETAIN: "none",
      GRACE_MS: "60000",
      CLAIM_TIMEOUT_MS: String(CLAIM_TIMEOUT_MS),
      LOG_CLAIMS: "1",
    };
    // Slot 0 keeps one process up throughout (so what the dead leave pending is taken over
    // without waiting for a restart). Slots 1 and 2 are respawned whenever their process dies:
    // until the last tick each kills itself after a few claims, and is killed at random too.
    const spawn = (slot: number): void => {
      const dying: Record<string, string> = slot > 0 && Date.now() < endAt ? { DIE_AFTER_CLAIMS: String(randomInt(1, 4)) } : {};
      const child = startScript("tests/fixtures/scheduler-node.ts", { ...env, NODE: String(slot), ...dying });
      children.push(child);
      const node: Node = { child, slot, exited: false, died: false };
      nodes.push(node);
      child.process.once("exit", () => {
        node.exited = true;
        node.died = !stopping;
        if (!stopping) spawn(slot);
      });
    };
    // Not waiting for "ready": a process may claim a tick, and die, before it prints it.
    for (const slot of [0, 1, 2]) spawn(slot);
    // And a SIGKILL at a random moment, every so often, of one of them that is firing (one still
    // starting up is spared: on a loaded machine that takes seconds).
    const killSome = () => {
      if (stopping || Date.now() > endAt) return;
      const firing = nodes.filter((node) => node.slot > 0 && !node.exited && node.child.output().includes("ready\n"));
      void firing[randomInt(0, firing.length - 1)]?.child.kill("SIGKILL");
      killer = setTimeout(killSome, randomInt(500, 2_000));
    };
    killer = setTimeout(killSome, randomInt(500, 2_000));

    const handledAll = () => expected.every((id) => handled.includes(id));
    await waitUntil(() => Date.now() > endAt + 500 && handledAll(), 60_000, "every tick handled").catch(async (error) => {
      const missing = expected.filter((id) => !handled.includes(id)).map(tickOf);
      const state = await conveyor.store.getRecord("schedule-state", "beat");
      const outputs = nodes.map((n) => `--- node ${n.slot}:\n${n.child.output().slice(-1_000)}`).join("\n");
      throw new Error(`${error.message}: ticks ${missing.join(", ")} missing; state ${JSON.stringify(state)}\n${outputs}`);
    });
    stopping = true;
    clearTimeout(killer);
    await Promise.all(nodes.map((node) => node.child.kill("SIGKILL")));
    await new Promise((resolve) => setTimeout(resolve, 200)); // last announcements in flight
    subscription.close();

    const crashed = nodes.filter((n) => n.child.process.exitCode !== null);
    assert.deepEqual(crashed.map((n) => n.child.output()), [], "every process ended by SIGKILL, none by an error");
    const diedOn = nodes.flatMap((n) => linesOf(n.child.output(), "dying"));
    // Each "claim" line is printed before the swap is tried: ticks a killed process claimed, or tried to.
    const claimedByKilled = new Set(nodes.filter((n) => n.died).flatMap((n) => linesOf(n.child.output(), "claim")));
    assert.ok(diedOn.length >= 1, "a process died right after claiming a tick");

    assert.deepEqual(expected.filter((id) => !created.includes(id)), [], "no tick lost");
    assert.ok(diedOn.every((tick) => handled.includes(`schedule:beat:${tick}`)), "the ticks processes died on were run");
    assert.deepEqual([...new Set(created)].sort(), expected, "and nothing outside the schedule's ticks");
    const repeats = [...new Set(created.filter((id, i) => created.indexOf(id) !== i))];
    assert.deepEqual(repeats.filter((id) => !claimedByKilled.has(tickOf(id))), [], "repeated only where a killed process had claimed the tick");
    const info = await conveyor.scheduler({ autostart: false }).get("beat");
    assert.equal(info?.runs, TICKS, "runs counts each tick once, however many times its claimant died");
    console.log(`${nodes.length} processes, ${diedOn.length} died right after a claim, ${repeats.length} tick(s) repeated`);
  } finally {
    stopping = true;
    clearTimeout(killer);
    await Promise.all(nodes.map((node) => node.child.kill("SIGKILL")));
    await conveyor.close({ timeoutMs: 0 });
  }
});
