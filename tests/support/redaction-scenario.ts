// The redaction crawl's scenario, shared by the memory and Redis tests: jobs that carry, log,
// throw and return the planted secrets; readers with and without a payload scope; a crawler that
// calls every GET route the app's OpenAPI document lists.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import * as v from "valibot";
import { type Conveyor, createConveyor, defineJob, type QueueStore, UnrecoverableError } from "../../mod.ts";
import { createApp } from "../../http.ts";
import { ALL_TEXT, CUSTOM_PATTERN, KEYED, PLANTED, secretData } from "./secrets.ts";

export const JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256";
export const QUEUE = "vault";
/** Jobs the scenario ends: 4 leaky (HTTP, flow child, batch child, schedule), 3 failing, a catch step, a flow parent, a batch. */
export const FINISHED = 10;

export async function token(scope: string, sub = "crawler"): Promise<string> {
  return await new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("10m")
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** Readers of everything, without `jobs:payload` and `jobs:stacks`; with stacks; and admin. */
export const READER_SCOPES = "jobs:read jobs:write schedules:read schedules:write ops:read audit:read";
export const STACKS_SCOPES = `${READER_SCOPES} jobs:stacks`;

const data = v.record(v.string(), v.unknown());
export const leaky = defineJob("leaky", data);
export const failing = defineJob("failing", data, { attempts: 2 });
export const throwsObject = defineJob("throws-object", data);
export const recover = defineJob("recover", v.unknown());
export const parent = defineJob("parent", data);

/** An error whose message and stack both carry secrets (the stack also one the message lacks). */
function secretError(): Error {
  const error = new Error(`upstream refused: ${ALL_TEXT}`);
  error.stack = `${error.stack}\n    at fetchWithAuth (https://svc:${KEYED.password}@api.internal/v1)\n    ${PLANTED[1]!.text}`;
  return error;
}

export interface Scenario {
  readonly conveyor: Conveyor;
  readonly app: ReturnType<typeof createApp>;
  /** Every job id the scenario made, in the vault queue. */
  readonly ids: () => Promise<string[]>;
  /** What handlers received: each payload must be the one planted, intact. */
  readonly received: unknown[];
  call(method: string, path: string, scope: string | null, body?: unknown): Promise<{ status: number; text: string; json: any }>;
}

/** A conveyor with the custom pattern, the audit log and a failing health check, its app, and workers that leak everything they can. */
export function scenario(store: QueueStore): Scenario {
  const conveyor = createConveyor({
    store,
    redaction: { patterns: [CUSTOM_PATTERN] },
    audit: { lifecycle: ["started", "completed", "failed", "dead"], batchSize: 1 },
    // A dependency check that fails quoting a connection URL: /health answers 503 with its message.
    health: { checks: { upstream: () => Promise.reject(new Error(`no answer: ${ALL_TEXT}`)) } },
  });
  const queue = conveyor.queue(QUEUE).register(leaky, failing, throwsObject, recover, parent);
  const received: unknown[] = [];
  conveyor.worker(queue, { concurrency: 4 })
    .handle(leaky, async (payload, ctx) => {
      received.push(payload);
      for (const p of PLANTED) await ctx.log(p.text);
      await ctx.progress({ stage: ALL_TEXT, token: KEYED.refreshToken });
      await ctx.step("login", () => ({ cookie: `sid; ${ALL_TEXT}`, apiKey: KEYED.apiKey }));
      return secretData();
    })
    .handle(failing, async (payload, ctx) => {
      received.push(payload);
      await ctx.log(`attempt ${ctx.attempt}: ${ALL_TEXT}`);
      throw secretError();
    })
    .handle(throwsObject, (payload) => {
      received.push(payload);
      throw Object.assign(new UnrecoverableError(`gave up: ${ALL_TEXT}`), { stack: `UnrecoverableError: ${ALL_TEXT}` });
    })
    .handle(recover, () => ({ recovered: true }))
    .handle(parent, (_payload, ctx) => ({ children: ctx.children.length }));
  const app = createApp(conveyor, { auth: { secret: JWT_SECRET } });
  const call = async (method: string, path: string, scope: string | null, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (scope !== null) headers.authorization = `Bearer ${await token(scope)}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch { /* JSON lines, CSV, Prometheus text */ }
    return { status: res.status, text, json };
  };
  const ids = async () => {
    const all: string[] = [];
    for (const state of ["waiting", "delayed", "active", "waiting-children", "completed", "failed", "dead", "cancelled"] as const) {
      all.push(...(await queue.list(state, { limit: 1_000 })).map((job) => job.id));
    }
    return all;
  };
  return { conveyor, app, ids, received, call };
}

/**
 * Plants the secrets: jobs over HTTP and the JS API, a chain whose catch step inherits an error, a
 * flow whose parent reads its child's result, a schedule with a secret payload (triggered once),
 * and refused requests whose bearer tokens are secrets. Resolves once every job has ended.
 */
export async function plant(s: Scenario): Promise<void> {
  const queue = s.conveyor.queue(QUEUE);
  const added = await s.call("POST", `/queues/${QUEUE}/jobs`, "admin", { name: "leaky", payload: secretData() });
  assert.equal(added.status, 201, added.text);
  assert.deepEqual(added.json.job.payload, secretData(), "an admin's own answer carries the payload as given");
  const asReader = await s.call("POST", `/queues/${QUEUE}/jobs`, READER_SCOPES, { name: "failing", payload: secretData() });
  assert.equal(asReader.status, 201, asReader.text);
  assert.equal(asReader.json.job.payload.password, "[REDACTED]", "a writer without jobs:payload gets it back redacted");
  await queue.add(throwsObject, secretData());
  await queue.chain(failing, secretData(), { attempts: 1 }).catch(recover).add();
  await s.conveyor.flow({ queue: QUEUE, job: parent, payload: secretData(), children: [{ queue: QUEUE, job: leaky, payload: secretData() }] });
  await s.conveyor.batch([{ queue: QUEUE, job: leaky, payload: secretData() }], { queue: QUEUE });
  const schedule = await s.call("POST", "/schedules", "admin", { id: "nightly", when: { everyMs: 86_400_000 }, queue: QUEUE, job: "leaky", payload: secretData() });
  assert.equal(schedule.status, 201, schedule.text);
  const triggered = await s.call("POST", "/schedules/nightly/trigger", READER_SCOPES);
  assert.equal(triggered.status, 201, triggered.text);
  // Refused: a forged JWT, a Basic header, an opaque token.
  for (const header of [`Bearer ${PLANTED[0]!.text.split(" ")[1]}`, PLANTED[2]!.text.split("header ")[1]!.split(" to")[0]!, `Bearer ${KEYED.refreshToken}`]) {
    const res = await s.app.request(`/queues/${QUEUE}/jobs?state=dead`, { headers: { authorization: header } });
    assert.equal(res.status, 401);
  }
  await until(async () => {
    const c = await queue.counts();
    return c.waiting + c.delayed + c.active + c["waiting-children"] === 0 && c.completed + c.dead + c.failed >= FINISHED;
  });
  for (const payload of s.received) {
    if (payload && typeof payload === "object" && "password" in payload) assert.deepEqual(payload, secretData(), "handlers get payloads intact");
  }
  assert.ok(s.received.length >= 8, `handlers ran ${s.received.length} times`);
}

export async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not done within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface OpenApiOperation {
  parameters?: { name: string; in: string; required?: boolean; schema?: { enum?: string[] } }[];
}

/**
 * Every GET route of the app's OpenAPI document, with its path filled in every way the scenario
 * allows (each job id, each schedule id, each value of an enum parameter), with and without
 * `?stacks=true` where a route takes it; the SSE route is left to its own test. Returns each
 * answer's text by URL.
 */
export async function crawl(s: Scenario, scope: string, options: { stacks: boolean }): Promise<Map<string, { status: number; text: string }>> {
  const doc = (await s.call("GET", "/openapi.json", null)).json as { paths: Record<string, Record<string, OpenApiOperation>> };
  const ids = await s.ids();
  const schedules = ["nightly"];
  const answers = new Map<string, { status: number; text: string }>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    const get = operations.get;
    if (!get || path.endsWith("/events")) continue;
    let urls = [path.replace("{queue}", QUEUE)];
    if (urls[0]!.includes("{id}")) urls = (path.startsWith("/schedules") ? schedules : ids).map((id) => urls[0]!.replace("{id}", encodeURIComponent(id)));
    for (const param of get.parameters ?? []) {
      if (param.in !== "query" || !param.required) continue;
      const values = param.schema?.enum ?? [];
      urls = urls.flatMap((url) => values.map((value) => `${url}${url.includes("?") ? "&" : "?"}${param.name}=${value}`));
    }
    // Each value of an optional enum too (`?format=text`, `?format=csv`), one parameter at a time.
    const base = urls;
    for (const param of get.parameters ?? []) {
      if (param.in !== "query" || param.required || param.name === "stacks") continue;
      for (const value of param.schema?.enum ?? []) urls = [...urls, ...base.map((url) => `${url}${url.includes("?") ? "&" : "?"}${param.name}=${value}`)];
    }
    const takesStacks = (get.parameters ?? []).some((p) => p.name === "stacks");
    for (const url of urls) {
      const full = options.stacks && takesStacks ? `${url}${url.includes("?") ? "&" : "?"}stacks=true` : url;
      const { status, text } = await s.call("GET", full, scope);
      answers.set(full, { status, text });
    }
  }
  return answers;
}

/**
 * Reads an SSE stream: `ready` once the server says it listens (events from then on are not
 * missed), `text` everything up to where `done` says so (or the time limit), then cancels it.
 */
export function readStream(res: Response, done: (text: string) => boolean, timeoutMs = 20_000): { ready: Promise<void>; text: Promise<string> } {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => markReady = resolve);
  const all = (async () => {
    const timer = setTimeout(() => void reader.cancel(), timeoutMs);
    try {
      while (!done(text)) {
        const next = await reader.read();
        if (next.done) break;
        text += next.value;
        if (text.includes("event: ready")) markReady();
      }
    } finally {
      clearTimeout(timer);
      markReady();
      await reader.cancel().catch(() => {});
    }
    return text;
  })();
  return { ready, text: all };
}
