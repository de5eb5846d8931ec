// The `scheduled` event: each tick a schedule fires, and each manual trigger, is announced on its queue.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as v from "valibot";
import { createConveyor, defineJob, every, FakeClock, type EventOf } from "../mod.ts";

const ping = defineJob("ping", v.object({}));

test("a schedule announces each run it starts, with the tick and the job", async () => {
  const clock = new FakeClock({ startMs: Date.UTC(2026, 0, 1) });
  const conveyor = createConveyor({ clock });
  const ops = conveyor.queue("ops");
  const seen: EventOf<"scheduled">[] = [];
  ops.events.addEventListener("scheduled", (e) => seen.push(e.data));
  const scheduler = conveyor.scheduler({ autostart: false });
  await scheduler.schedule("heartbeat", every(30, "seconds"), { queue: "ops", job: ping, payload: {} }, { overlap: "allow" });
  await scheduler.start();
  await clock.advance(60_000);
  assert.deepEqual(seen.map((e) => [e.scheduleId, e.tickAt, e.name]), [
    ["heartbeat", Date.UTC(2026, 0, 1, 0, 0, 30), "ping"],
    ["heartbeat", Date.UTC(2026, 0, 1, 0, 1, 0), "ping"],
  ]);
  assert.equal((await ops.get(seen[0]!.jobId))?.createdBy, "schedule:heartbeat");
  const job = await scheduler.trigger("heartbeat");
  assert.equal(seen.at(-1)?.jobId, job.id);
  assert.equal(seen.at(-1)?.tickAt, clock.now());
  await conveyor.close();
});
