// Secrets planted in payloads, logs, errors (message and stack) and results of jobs on the memory
// store, run by workers: none of them reaches a reader without a payload scope through any route
// the OpenAPI document lists, the SSE stream, the Pusher channels, the audit log or the console;
// the stored logs and errors hold none either, and handlers got their payloads intact.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Pusher from "pusher-js";
import { createConveyor, MemoryStore, UnrecoverableError } from "../mod.ts";
import { broadcastJobEvents, queueChannel } from "../broadcast.ts";
import { APP, pusherOptions, startBroadcastServer, subscribed, userToken } from "./support/broadcast-server.ts";
import { crawl, FINISHED, plant, QUEUE, READER_SCOPES, readStream, type Scenario, scenario, STACKS_SCOPES, throwsObject, token, until } from "./support/redaction-scenario.ts";
import { runtime } from "./support/runtime.ts";
import { ALL_TEXT, CUSTOM_PATTERN, KEYED, leaks, secretData } from "./support/secrets.ts";

/** Job data as an admin sees it: planted on purpose, so left out before looking for leaks. */
function withoutData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutData);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !["payload", "result", "progress", "steps"].includes(key)).map(([k, v]) => [k, withoutData(v)]));
}

describe(`redaction end to end on the memory store (${runtime})`, () => {
  let s: Scenario;
  let broadcast: Awaited<ReturnType<typeof startBroadcastServer>>;
  let pusher: Pusher;
  const pushed: string[] = [];
  let sse: Promise<string>;
  let sseWithStacks: Promise<string>;

  before(async () => {
    s = scenario(new MemoryStore());
    broadcast = await startBroadcastServer();
    broadcastJobEvents(broadcast.broadcaster, s.conveyor.queue(QUEUE));
    pusher = new Pusher(APP.key, pusherOptions(broadcast.port, await userToken("alice")));
    const channel = pusher.subscribe(queueChannel(QUEUE));
    channel.bind_global((event: string, data: unknown) => void pushed.push(`${event} ${JSON.stringify(data)}`));
    await subscribed(channel);
    const open = async (scope: string, query: string) => {
      const res = await s.app.request(`/queues/${QUEUE}/events${query}`, { headers: { authorization: `Bearer ${await token(scope)}` } });
      assert.equal(res.status, 200);
      const stream = readStream(res, (text) => (text.match(/event: (completed|dead)\n/g) ?? []).length >= FINISHED);
      await stream.ready;
      return { text: stream.text }; // not the promise itself: an async function would wait for it
    };
    // Both streams listen before anything is planted.
    const [plain, withStacks] = await Promise.all([open(READER_SCOPES, ""), open(STACKS_SCOPES, "?stacks=true")]);
    sse = plain.text;
    sseWithStacks = withStacks.text;
    await s.conveyor.queue(QUEUE).events.ready();
    await plant(s);
    await until(async () => pushed.filter((line) => /^job\.(completed|dead) /.test(line)).length >= FINISHED);
  });

  after(async () => {
    pusher?.disconnect();
    await broadcast?.close();
    await s?.conveyor.close({ timeoutMs: 0 });
  });

  test("every GET route, for a reader without jobs:payload: nothing planted comes back", async () => {
    const answers = await crawl(s, READER_SCOPES, { stacks: false });
    assert.ok(answers.size >= 20, `crawled ${answers.size} URLs`);
    for (const [url, { status, text }] of answers) {
      assert.ok(status === 200 || status === 404 || (status === 503 && url.startsWith("/health")), `${url}: ${status} ${text}`);
      assert.deepEqual(leaks(text), [], url);
      assert.ok(!text.includes('"stack"'), `${url} serves no stack unless asked`);
    }
    const job = JSON.parse(answers.get(`/queues/${QUEUE}/jobs?state=completed`)!.text).jobs.find((j: { name: string }) => j.name === "leaky");
    assert.equal(job.payload.user, "ada", "the rest of a payload is readable");
    assert.equal(job.payload.password, "[REDACTED]");
    const paths = [...answers.keys()].join(" ");
    assert.match(paths, /\/schedules\/nightly/);
    assert.match(paths, /\/queues\/vault\/flows\//);
    assert.match(paths, /\/audit/, "the audit log is crawled with the rest");
    assert.match(answers.get("/health")!.text, /no answer: token \[REDACTED\]/, "the failing check's message is there, redacted");
    assert.match(answers.get("/health?format=text")!.text, /no answer: token \[REDACTED\]/);
  });

  test("asking for stacks needs jobs:stacks; with it, stacks come, redacted", async () => {
    const refused = await s.call("GET", `/queues/${QUEUE}/jobs?state=dead&stacks=true`, READER_SCOPES);
    assert.deepEqual([refused.status, refused.json.error.code], [403, "FORBIDDEN"]);
    const answers = await crawl(s, STACKS_SCOPES, { stacks: true });
    let stacks = 0;
    for (const [url, { status, text }] of answers) {
      assert.ok(status === 200 || status === 404 || (status === 503 && url.startsWith("/health")), `${url}: ${status}`);
      assert.deepEqual(leaks(text), [], url);
      stacks += (text.match(/"stack"/g) ?? []).length;
    }
    assert.ok(stacks > 0, "stacks are served when asked for");
  });

  test("an admin sees payloads and results as stored, and logs, errors and stacks redacted", async () => {
    const answers = await crawl(s, "admin", { stacks: true });
    let payloads = 0;
    for (const [url, { text }] of answers) {
      let json: unknown = text; // Prometheus text, CSV
      try {
        json = JSON.parse(text);
      } catch {
        if (text.startsWith("{")) json = text.split("\n").filter(Boolean).map((line) => JSON.parse(line)); // JSON lines
      }
      assert.deepEqual(leaks(JSON.stringify(withoutData(json))), [], url);
      payloads += text.split(JSON.stringify(secretData().password)).length - 1;
    }
    assert.ok(payloads > 0, "payloads come back intact to a payload scope");
  });

  test("the SSE stream, with and without stacks, carries none", async () => {
    const text = await sse;
    assert.match(text, /event: failed/);
    assert.match(text, /event: progress/);
    assert.deepEqual(leaks(text), []);
    assert.ok(!text.includes('\\"stack\\"') && !text.includes('"stack"'));
    const withStacks = await sseWithStacks;
    assert.deepEqual(leaks(withStacks), []);
    assert.match(withStacks, /"stack"/);
  });

  test("the Pusher channel carries none", () => {
    assert.ok(pushed.some((line) => line.startsWith("job.progress ")));
    assert.ok(pushed.some((line) => line.startsWith("job.failed ")));
    assert.deepEqual(leaks(pushed.join("\n")), []);
    assert.ok(!pushed.join("\n").includes('"stack"'));
  });

  test("the store keeps payloads intact and logs and errors redacted", async () => {
    const store = s.conveyor.store;
    let logs = 0;
    for (const id of await s.ids()) {
      const job = (await store.get(QUEUE, id))!;
      assert.deepEqual(leaks(JSON.stringify([job.logs, job.lastError, job.dead, job.flow?.previous?.error ?? null])), [], `job ${id} (${job.name})`);
      logs += job.logs.length;
      if (job.name === "leaky") assert.deepEqual(job.payload, secretData());
    }
    assert.ok(logs > 0);
  });
});

test(`console lines carry none: the failed-for-good line, a worker's store errors (${runtime})`, async () => {
  const printed: string[] = [];
  const original = { error: console.error, warn: console.warn };
  const keep = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
  Object.assign(console, { error: keep, warn: keep });
  // No HTTP app, no audit: nobody listens for failed, so the line is printed.
  const store = new MemoryStore();
  const conveyor = createConveyor({ store, redaction: { patterns: [CUSTOM_PATTERN] } });
  conveyor.worker(QUEUE).handle(throwsObject, () => {
    throw new UnrecoverableError(`gave up: ${ALL_TEXT}`);
  });
  try {
    const job = await conveyor.queue(QUEUE).add(throwsObject, secretData());
    await until(async () => (await store.get(QUEUE, job.id))?.state === "dead");
    await until(() => Promise.resolve(printed.some((line) => /failed for good/.test(line))));
    // A store failing with a secret in its error: the worker reports it to the console.
    store.claim = () => Promise.reject(new Error(`connection to redis://default:${KEYED.password}@cache failed; ${ALL_TEXT}`));
    await conveyor.queue(QUEUE).add(throwsObject, {});
    await until(() => Promise.resolve(printed.some((line) => /connection to redis/.test(line))));
  } finally {
    Object.assign(console, original);
    await conveyor.close({ timeoutMs: 0 });
  }
  assert.deepEqual(leaks(printed.join("\n")), []);
});
