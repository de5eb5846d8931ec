// Job data through the HTTP app: what cannot be served back is refused with 400 before it is
// stored (a client retrying a 500 used to enqueue it twice), and "__proto__" keys stay data.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SignJWT } from "jose";
import * as v from "valibot";
import { createConveyor, defineJob, MAX_DATA_DEPTH } from "../mod.ts";
import { createApp } from "../http.ts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const anything = defineJob("anything", v.unknown());

/** JSON text of `{"a":{"a":…1}}` with `depth` objects (built as text: JSON.stringify itself overflows at some depth). */
const nestedJson = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);

async function server() {
  const conveyor = createConveyor();
  conveyor.queue("q").register(anything);
  const app = createApp(conveyor, { auth: { secret: SECRET }, bodyLimitBytes: 1_000_000 });
  const token = await new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("ada")
    .setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
  const call = async (method: string, path: string, raw?: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (raw !== undefined) headers["content-type"] = "application/json";
    const res = await app.request(path, { method, headers, body: raw });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) };
  };
  return { conveyor, call };
}

describe("HTTP app: job data", () => {
  test(`a payload nested ${MAX_DATA_DEPTH} levels deep is enqueued, read and listed`, async () => {
    const { conveyor, call } = await server();
    const added = await call("POST", "/queues/q/jobs", `{"name":"anything","payload":${nestedJson(MAX_DATA_DEPTH)}}`);
    assert.equal(added.status, 201, added.text.slice(0, 200));
    const one = await call("GET", `/queues/q/jobs/${added.json.job.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.json.job.payload, JSON.parse(nestedJson(MAX_DATA_DEPTH)));
    const list = await call("GET", "/queues/q/jobs?state=waiting");
    assert.deepEqual([list.status, list.json.jobs.length], [200, 1]);
    await conveyor.close();
  });

  test("a deeper payload is a 400 with the error envelope, and nothing is stored", async () => {
    const { conveyor, call } = await server();
    for (const depth of [MAX_DATA_DEPTH + 1, 3_000, 10_000]) {
      const one = await call("POST", "/queues/q/jobs", `{"name":"anything","payload":${nestedJson(depth)}}`);
      assert.equal(one.status, 400, `depth ${depth}: ${one.text.slice(0, 200)}`);
      assert.equal(one.json.error.code, "VALIDATION_FAILED");
      assert.deepEqual(one.json.error.issues.map((i: { path: string }) => i.path), ["body.payload"]);
      assert.match(one.json.error.message, /at most 100 levels/);
      const bulk = await call("POST", "/queues/q/jobs/bulk", `{"jobs":[{"name":"anything","payload":1},{"name":"anything","payload":${nestedJson(depth)}}]}`);
      assert.equal(bulk.status, 400);
      assert.deepEqual(bulk.json.error.issues.map((i: { path: string }) => i.path), ["body.jobs.1.payload"]);
    }
    assert.equal((await conveyor.queue("q").counts()).waiting, 0, "neither request stored a job");
    const list = await call("GET", "/queues/q/jobs?state=waiting");
    assert.deepEqual([list.status, list.json.jobs], [200, []]);
    await conveyor.close();
  });

  test('a "__proto__" key in a payload is kept as data', async () => {
    const { conveyor, call } = await server();
    const payload = '{"__proto__":{"x":1},"n":1}';
    const added = await call("POST", "/queues/q/jobs", `{"name":"anything","payload":${payload}}`);
    assert.equal(added.status, 201);
    const stored = (await conveyor.queue("q").get(added.json.job.id))!.payload as Record<string, unknown>;
    assert.ok(Object.hasOwn(stored, "__proto__"));
    assert.equal(Object.getPrototypeOf(stored), Object.prototype);
    const read = await call("GET", `/queues/q/jobs/${added.json.job.id}`);
    assert.ok(read.text.includes(`"payload":${payload}`), read.text.slice(0, 200));
    assert.equal(({} as Record<string, unknown>).x, undefined);
    await conveyor.close();
  });
});
