// Chains, flows and batches over HTTP (by job name), driven with app.request() and a fake clock:
// created, run by workers, read back, cancelled; per-queue scopes; their events on SSE and on
// broadcast channels; OpenAPI covers the routes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SignJWT } from "jose";
import * as v from "valibot";
import { type ConveyorEventData, createConveyor, defineJob, FakeClock } from "../mod.ts";
import { createApp } from "../http.ts";
import { broadcastJobEvents, type Broadcaster, jobChannel } from "../broadcast.ts";
import { eventually } from "./support/harness.ts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const fetchUser = defineJob("fetch-user", v.object({ id: v.number() }));
const greet = defineJob("greet", v.object({ name: v.string() }));
const record = defineJob("record", v.unknown());
const square = defineJob("square", v.number());
const sum = defineJob("sum", v.object({ label: v.string() }));

const token = (scope = "admin", sub = "ada") =>
  new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));

function server() {
  const clock = new FakeClock();
  const conveyor = createConveyor({ clock });
  const seen: unknown[] = [];
  conveyor.worker("users").handle(fetchUser, ({ id }) => ({ name: `user-${id}` })).handle(record, (payload, ctx) => {
    seen.push([ctx.name, payload]);
    return "recorded";
  });
  conveyor.worker("mail").handle(greet, ({ name }) => `hello ${name}`);
  conveyor.worker("numbers", { concurrency: 4 }).handle(square, (n) => {
    if (n < 0) throw new Error("negative");
    return n * n;
  });
  conveyor.worker("reports").handle(sum, ({ label }, ctx) => ({ label, total: ctx.children.reduce((t, c) => t + (c.result as number), 0) }));
  const app = createApp(conveyor, { auth: { secret: SECRET }, authFailureLimit: false });
  const call = async (method: string, path: string, body?: unknown, bearer?: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${bearer ?? await token()}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  };
  return { clock, conveyor, app, call, seen, close: () => conveyor.close({ timeoutMs: 0 }) };
}

describe("HTTP workflows", () => {
  test("a chain by job name: its first step answered (201, createdBy the token's subject), each next step run with the result before it, across queues", async () => {
    const s = server();
    const added = await s.call("POST", "/queues/users/chains", {
      steps: [{ name: "fetch-user", payload: { id: 7 } }, { name: "greet", queue: "mail" }, { name: "record" }],
      finally: { name: "record", payload: { fin: true } },
    });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    assert.deepEqual([added.json.job.name, added.json.job.queue, added.json.job.createdBy, added.json.job.duplicate], ["fetch-user", "users", "ada", false]);
    assert.deepEqual(added.json.job.flow.chain.then.map((step: { queue: string; job: { name: string } }) => [step.job.name, step.queue]), [["greet", "mail"], ["record", "users"]]);
    await eventually(s.clock, () => s.seen.length === 2);
    assert.deepEqual(s.seen, [["record", "hello user-7"], ["record", { fin: true }]]);
    await s.close();
  });

  test("a flow by job name: children default to their parent's queue; its tree is readable as it runs and after", async () => {
    const s = server();
    const added = await s.call("POST", "/queues/reports/flows", {
      name: "sum", payload: { label: "squares" },
      children: [{ queue: "numbers", name: "square", payload: 2 }, { queue: "numbers", name: "square", payload: 3, onFailure: "continue" }],
    });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    const { job, children } = added.json.flow;
    assert.deepEqual([job.state, job.createdBy, children.map((c: { job: { queue: string; createdBy: string } }) => [c.job.queue, c.job.createdBy])], [
      "waiting-children", "ada", [["numbers", "ada"], ["numbers", "ada"]],
    ]);
    const result = await s.conveyor.queue("reports").finished(job.id);
    assert.deepEqual(result, { label: "squares", total: 13 });
    const tree = await s.call("GET", `/queues/reports/flows/${job.id}`, undefined, await token("jobs:read"));
    assert.equal(tree.status, 200);
    assert.deepEqual([tree.json.flow.job.state, tree.json.flow.children.map((c: { job: { result: number } }) => c.job.result).sort()], ["completed", [4, 9]]);
    const leaf = await s.call("GET", `/queues/numbers/flows/${children[0].job.id}`);
    assert.deepEqual([leaf.status, leaf.json.flow.children], [200, []], "a child's own subtree");

    const plain = await s.conveyor.queue("numbers").add(square, 1);
    const notFlow = await s.call("GET", `/queues/numbers/flows/${plain.id}`);
    assert.deepEqual([notFlow.status, notFlow.json.error.code], [404, "JOB_NOT_FOUND"], "a job outside any flow has no tree");
    await s.close();
  });

  test("a batch by job name: progress readable, then runs after; cancelled through the job cancel route, its pending jobs with it", async () => {
    const s = server();
    const added = await s.call("POST", "/queues/users/batches", {
      jobs: [1, 2, 3].map((n) => ({ queue: "numbers", name: "square", payload: n })),
      then: { name: "record" },
    });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    assert.deepEqual([added.json.batch.total, added.json.batch.pending, added.json.batch.state], [3, 3, "waiting-children"]);
    await eventually(s.clock, () => s.seen.length === 1);
    assert.deepEqual(s.seen, [["record", { total: 3, completed: 3, failed: 0 }]]);
    const progress = await s.call("GET", `/queues/users/batches/${added.json.batch.id}`, undefined, await token("jobs:read"));
    assert.deepEqual([progress.status, progress.json.batch.state, progress.json.batch.processed], [200, "completed", 3]);

    // No worker on "idle": its jobs wait until the batch is cancelled.
    s.conveyor.queue("idle").register(square);
    const waiting = await s.call("POST", "/queues/idle/batches", { jobs: [{ name: "square", payload: 1 }, { name: "square", payload: 2 }] });
    const cancelled = await s.call("POST", `/queues/idle/jobs/${waiting.json.batch.id}/cancel`);
    assert.deepEqual(cancelled.json, { previous: "waiting-children" });
    assert.deepEqual((await s.call("GET", `/queues/idle/batches/${waiting.json.batch.id}`)).json.batch.state, "cancelled");
    assert.equal((await s.conveyor.queue("idle").counts()).cancelled, 3, "the batch and both its jobs");
    const notBatch = await s.call("GET", `/queues/idle/batches/${(await s.conveyor.queue("idle").add(square, 5)).id}`);
    assert.deepEqual([notBatch.status, notBatch.json.error.code], [404, "JOB_NOT_FOUND"]);
    await s.close();
  });

  test("every queue a workflow touches needs the caller's write scope, checked before anything is looked up or stored", async () => {
    const s = server();
    const chain = { steps: [{ name: "fetch-user", payload: { id: 1 } }, { name: "greet", queue: "mail" }] };
    const usersOnly = await token("jobs:write:users");
    const refused = await s.call("POST", "/queues/users/chains", chain, usersOnly);
    assert.deepEqual([refused.status, refused.json.error.code], [403, "FORBIDDEN"]);
    const probe = await s.call("POST", "/queues/users/chains", { steps: [chain.steps[0], { name: "nothing-here", queue: "mail" }] }, usersOnly);
    assert.equal(probe.status, 403, "a queue the caller may not write is not probed for job names");
    const flow = await s.call("POST", "/queues/users/flows", { name: "fetch-user", payload: { id: 1 }, children: [{ queue: "numbers", name: "square", payload: 1 }] }, usersOnly);
    assert.equal(flow.status, 403);
    assert.deepEqual(await s.conveyor.queue("users").counts().then((c) => c.waiting + c["waiting-children"]), 0, "nothing stored");
    const both = await s.call("POST", "/queues/users/chains", chain, await token("jobs:write:users jobs:write:mail"));
    assert.equal(both.status, 201);
    await s.close();
  });

  test("flow and batch progress events reach the SSE stream and the job's broadcast channel", async () => {
    const s = server();
    const res = await s.app.request("/queues/users/events?types=batch.progress", { headers: { authorization: `Bearer ${await token()}` } });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: ready")) text += (await reader.read()).value ?? "";
    const published: [readonly string[], string, ConveyorEventData][] = [];
    const broadcaster = {
      publish: (channels: readonly string[], event: string, data: ConveyorEventData) => Promise.resolve(void published.push([channels, event, data])),
    };
    const stop = broadcastJobEvents(broadcaster as unknown as Broadcaster, s.conveyor.queue("reports"));
    await s.conveyor.queue("reports").events.ready();

    const batch = (await s.call("POST", "/queues/users/batches", { jobs: [{ queue: "numbers", name: "square", payload: 4 }] })).json.batch;
    while (!text.includes("event: batch.progress")) text += (await reader.read()).value ?? "";
    const data = JSON.parse(/event: batch\.progress\ndata: (.*)\n/.exec(text)![1]!);
    assert.deepEqual([data.jobId, data.total, data.pending, data.failed, data.child.state], [batch.id, 1, 0, 0, "completed"]);
    await reader.cancel();

    const flow = (await s.call("POST", "/queues/reports/flows", { name: "sum", payload: { label: "x" }, children: [{ queue: "numbers", name: "square", payload: 1 }] })).json.flow;
    await eventually(s.clock, () => published.some(([, event]) => event === "job.flow.progress"));
    const [channels, , event] = published.find(([, name]) => name === "job.flow.progress")!;
    assert.ok(channels.includes(jobChannel("reports", flow.job.id)), "on the parent's own channel");
    assert.deepEqual([event.type, (event as { pending: number }).pending], ["flow.progress", 0]);
    stop();
    await s.close();
  });

  test("a refused workflow says which step, in its message and its issue path", async () => {
    const s = server();
    const chain = await s.call("POST", "/queues/users/chains", { steps: [{ name: "fetch-user", payload: { id: 1 } }, { name: "record" }, { name: "sms" }] });
    assert.deepEqual([chain.status, chain.json.error.code, chain.json.error.message, chain.json.error.issues[0].path], [
      400, "UNKNOWN_JOB", 'steps[2]: no job named "sms" on queue "users"', "body.steps.2",
    ]);
    const flow = await s.call("POST", "/queues/reports/flows", { name: "sum", payload: { label: "x" }, children: [{ queue: "numbers", name: "square", payload: 1 }, { name: "square", payload: 2 }] });
    assert.deepEqual([flow.json.error.code, flow.json.error.message], ["UNKNOWN_JOB", 'flow.children[1]: no job named "square" on queue "reports"'], "a child's queue is its parent's unless it names one");
    const batch = await s.call("POST", "/queues/numbers/batches", { jobs: [{ name: "square", payload: 1 }, { name: "square", payload: "two" }] });
    assert.deepEqual([batch.json.error.code, batch.json.error.issues[0].path], ["VALIDATION_FAILED", "body.jobs.1.payload"]);
    assert.match(batch.json.error.message, /^jobs\[1\]: invalid payload for job "square"/);
    assert.equal((await s.conveyor.queue("numbers").counts()).waiting, 0, "nothing stored");
    await s.close();
  });

  test("a schedule over HTTP starts a chain, a flow or a batch: validated by job name, stored as given, triggered", async () => {
    const s = server();
    const when = { everyMs: 60_000 };
    const created = await s.call("POST", "/schedules", { id: "greetings", when, queue: "users", chain: { steps: [{ name: "fetch-user", payload: { id: 3 } }, { name: "greet", queue: "mail" }] } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.deepEqual([created.json.schedule.job, created.json.schedule.workflow.chain.steps.length], ["fetch-user", 2]);
    const run = await s.call("POST", "/schedules/greetings/trigger");
    assert.deepEqual([run.status, run.json.job.name, run.json.job.createdBy, run.json.job.flow.chain.then[0].job.name], [201, "fetch-user", "schedule:greetings", "greet"]);
    const replaced = await s.call("PUT", "/schedules/greetings", { when, queue: "reports", flow: { name: "sum", payload: { label: "l" }, children: [{ queue: "numbers", name: "square", payload: 2 }] } });
    assert.deepEqual([replaced.status, replaced.json.schedule.job, replaced.json.schedule.workflow.flow.children.length], [200, "sum", 1]);
    const batched = await s.call("PUT", "/schedules/imports", { when, queue: "numbers", batch: { jobs: [{ name: "square", payload: 2 }], name: "imports" } });
    assert.deepEqual([batched.status, batched.json.schedule.job], [200, "imports"]);
    const batch = (await s.call("POST", "/schedules/imports/trigger")).json.job;
    assert.deepEqual([batch.name, batch.flow.family.batch, batch.flow.family.children.length], ["imports", true, 1]);
    await s.close();
  });

  test("OpenAPI describes the workflow routes with their scopes and body schemas, every $ref resolving inside the document", async () => {
    const s = server();
    type Operation = { "x-scope": string; requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } };
    const doc = await (await s.app.request("/openapi.json")).json() as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
    const { paths, components } = doc;
    const op = (path: string, method: string) => paths[path]?.[method];
    assert.equal(op("/queues/{queue}/chains", "post")?.["x-scope"], "jobs:write");
    assert.equal(op("/queues/{queue}/flows", "post")?.["x-scope"], "jobs:write");
    assert.equal(op("/queues/{queue}/flows/{id}", "get")?.["x-scope"], "jobs:read");
    assert.equal(op("/queues/{queue}/batches/{id}", "get")?.["x-scope"], "jobs:read");
    assert.ok(op("/queues/{queue}/batches", "post")?.requestBody.content["application/json"]?.schema.properties.jobs);
    assert.ok(op("/schedules", "post")?.requestBody.content["application/json"]?.schema.properties.chain, "a schedule's body takes a chain");
    const refs = [...JSON.stringify({ paths, components }).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.some((ref) => ref !== "#/components/schemas/Error"), "the flow's recursive children are a reference");
    for (const ref of refs) {
      assert.match(ref, /^#\/components\/schemas\//, `${ref} points into components`);
      assert.ok(components.schemas[ref.split("/").pop()!], `${ref} resolves`);
    }
    await s.close();
  });
});
