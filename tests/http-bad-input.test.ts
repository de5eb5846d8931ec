// Bad requests to the HTTP app, one table, run against the app alone and mounted under /jobs on a
// host beside the broadcast app: each gets its typed 4xx JSON error, nothing is written to the
// store, and no queue is made (unknown names, even "../../etc/passwd", are 404 and stay unknown).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MAX_CHAIN_STEPS, MAX_DATA_DEPTH, MAX_FLOW_DEPTH, MAX_FLOW_JOBS } from "../mod.ts";
import { badInputApps, bearer, type Request } from "./support/bad-input.ts";

type Apps = Awaited<ReturnType<typeof badInputApps>>;
type Token = keyof Apps["tokens"];
/** [what, method, path, bearer token (or raw headers), request, status, code] */
type Row = [string, string, string, Token | null | Record<string, string>, Request, number, string];

const good = { name: "email", payload: { to: "ada@example.com" } };
const nested = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
const schedule = { id: "s", when: { cron: "0 3 * * *" }, queue: "emails", job: "email", payload: good.payload };
const note = { name: "note", payload: { text: "hi" } };
const chain = { steps: [good, note] };
/** A flow `levels` deep, one child per level. */
const deepFlow = (levels: number) => {
  let node: Record<string, unknown> = { ...note };
  for (let i = 1; i < levels; i++) node = { ...note, children: [node] };
  return node;
};
const flow = { ...good, children: [note] };
const { job: _job, payload: _payload, ...bare } = schedule;

const ROWS: Row[] = [
  // Who is asking
  ["no token", "POST", "/queues/emails/jobs", null, { body: good }, 401, "UNAUTHENTICATED"],
  ["Basic auth", "GET", "/queues", { authorization: "Basic YWRhOnB3" }, {}, 401, "UNAUTHENTICATED"],
  ["empty bearer", "GET", "/queues", { authorization: "Bearer " }, {}, 401, "UNAUTHENTICATED"],
  ["bearer with spaces", "GET", "/queues", { authorization: "Bearer a b c" }, {}, 401, "UNAUTHENTICATED"],
  ["not a JWT", "GET", "/queues", { authorization: "Bearer not.a.jwt" }, {}, 401, "UNAUTHENTICATED"],
  ["a huge token", "GET", "/queues", { authorization: `Bearer ${"a".repeat(20_000)}` }, {}, 401, "UNAUTHENTICATED"],
  ["alg none", "GET", "/queues", { authorization: "Bearer eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0." }, {}, 401, "UNAUTHENTICATED"],
  ["forged signature", "GET", "/queues", "forged", {}, 401, "UNAUTHENTICATED"],
  ["expired token", "GET", "/queues", "expired", {}, 401, "UNAUTHENTICATED"],
  ["wrong audience", "GET", "/queues", "otherAudience", {}, 401, "UNAUTHENTICATED"],
  // What they may do
  ["read scope writing", "POST", "/queues/emails/jobs", "reader", { body: good }, 403, "FORBIDDEN"],
  ["another queue's scope", "POST", "/queues/emails/jobs", "smsWriter", { body: good }, 403, "FORBIDDEN"],
  ["read scope cancelling", "POST", "/queues/emails/jobs/1/cancel", "reader", {}, 403, "FORBIDDEN"],
  ["schedule reader creating", "POST", "/schedules", "scheduleReader", { body: schedule }, 403, "FORBIDDEN"],
  ["health without ops:read", "GET", "/health", "reader", {}, 403, "FORBIDDEN"],
  ["reader pausing", "POST", "/queues/emails/pause", "reader", {}, 403, "FORBIDDEN"],
  // Where
  ["unknown path", "GET", "/nothing/here", "admin", {}, 404, "NOT_FOUND"],
  ["the root", "GET", "/", "admin", {}, 404, "NOT_FOUND"],
  ["trailing slash", "GET", "/queues/", "admin", {}, 404, "NOT_FOUND"],
  ["double slash", "GET", "//queues", "admin", {}, 404, "NOT_FOUND"],
  ["unknown path, no token", "POST", "/admin/shell", null, { body: {} }, 404, "NOT_FOUND"],
  ["PATCH a job", "PATCH", "/queues/emails/jobs/1", "admin", { body: {} }, 405, "METHOD_NOT_ALLOWED"],
  ["PUT the queue list", "PUT", "/queues", "admin", { body: {} }, 405, "METHOD_NOT_ALLOWED"],
  ["DELETE all schedules", "DELETE", "/schedules", "admin", {}, 405, "METHOD_NOT_ALLOWED"],
  ["POST health", "POST", "/health", "admin", { body: {} }, 405, "METHOD_NOT_ALLOWED"],
  ["GET a cancel", "GET", "/queues/emails/jobs/1/cancel", "admin", {}, 405, "METHOD_NOT_ALLOWED"],
  ["OPTIONS", "OPTIONS", "/queues", null, {}, 405, "METHOD_NOT_ALLOWED"],
  // Which queue: undeclared names are not found and not made
  ["list an unknown queue", "GET", "/queues/nope/jobs?state=waiting", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["a traversal name", "GET", "/queues/..%2F..%2Fetc%2Fpasswd/jobs?state=waiting", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["bad percent-encoding", "GET", "/queues/%E0%A4%A/jobs?state=waiting", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["enqueue to an unknown queue", "POST", "/queues/nope/jobs", "admin", { body: good }, 404, "QUEUE_NOT_FOUND"],
  ["bulk to an unknown queue", "POST", "/queues/nope/jobs/bulk", "admin", { body: { jobs: [good] } }, 404, "QUEUE_NOT_FOUND"],
  ["a job of an unknown queue", "GET", "/queues/nope/jobs/1", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["remove from an unknown queue", "DELETE", "/queues/nope/jobs/1", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["cancel in an unknown queue", "POST", "/queues/nope/jobs/1/cancel", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["retry in an unknown queue", "POST", "/queues/nope/jobs/1/retry", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["pause an unknown queue", "POST", "/queues/nope/pause", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["resume an unknown queue", "POST", "/queues/nope/resume", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["dead letters of an unknown queue", "GET", "/queues/nope/dead", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["purge an unknown queue", "DELETE", "/queues/nope/dead", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["retry dead of an unknown queue", "POST", "/queues/nope/dead/retry", "admin", { body: {} }, 404, "QUEUE_NOT_FOUND"],
  ["events of an unknown queue", "GET", "/queues/nope/events", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["a name with a space", "GET", "/queues/has%20space/jobs?state=waiting", "admin", {}, 400, "VALIDATION_FAILED"],
  ["a NUL in the name", "GET", "/queues/a%00b/jobs?state=waiting", "admin", {}, 400, "VALIDATION_FAILED"],
  ["a newline in the name", "POST", "/queues/a%0Ab/jobs", "admin", { body: good }, 400, "VALIDATION_FAILED"],
  ["a 201-character name", "GET", `/queues/${"q".repeat(201)}/dead`, "admin", {}, 400, "VALIDATION_FAILED"],
  ["a 201-character job id", "GET", `/queues/emails/jobs/${"j".repeat(201)}`, "admin", {}, 400, "VALIDATION_FAILED"],
  // What: bodies
  ["wrong payload type", "POST", "/queues/emails/jobs", "admin", { body: { name: "email", payload: { to: 5 } } }, 400, "VALIDATION_FAILED"],
  ["payload failing its schema", "POST", "/queues/emails/jobs", "admin", { body: { name: "email", payload: { to: "not-an-email" } } }, 400, "VALIDATION_FAILED"],
  ["unknown body field", "POST", "/queues/emails/jobs", "admin", { body: { ...good, sneaky: true } }, 400, "VALIDATION_FAILED"],
  ["__proto__ field", "POST", "/queues/emails/jobs", "admin", { raw: '{"name":"email","payload":{"to":"a@b.co"},"__proto__":{"x":1}}' }, 400, "VALIDATION_FAILED"],
  ["__proto__ option", "POST", "/queues/emails/jobs", "admin", { raw: '{"name":"email","payload":{"to":"a@b.co"},"options":{"__proto__":{"attempts":9}}}' }, 400, "VALIDATION_FAILED"],
  ["negative attempts", "POST", "/queues/emails/jobs", "admin", { body: { ...good, options: { attempts: -1 } } }, 400, "VALIDATION_FAILED"],
  ["priority out of range", "POST", "/queues/emails/jobs", "admin", { body: { ...good, options: { priority: 2_000_000 } } }, 400, "VALIDATION_FAILED"],
  ["negative delay", "POST", "/queues/emails/jobs", "admin", { body: { ...good, options: { delayMs: -5 } } }, 400, "VALIDATION_FAILED"],
  ["delay and runAt", "POST", "/queues/emails/jobs", "admin", { body: { ...good, options: { delayMs: 5, runAt: 1 } } }, 400, "VALIDATION_FAILED"],
  ["an all-digit jobId", "POST", "/queues/emails/jobs", "admin", { body: { ...good, options: { jobId: "123" } } }, 400, "VALIDATION_FAILED"],
  ["createdBy from the body", "POST", "/queues/emails/jobs", "admin", { body: { ...good, options: { createdBy: "mallory" } } }, 400, "VALIDATION_FAILED"],
  ["a payload too deep", "POST", "/queues/emails/jobs", "admin", { raw: `{"name":"email","payload":${nested(MAX_DATA_DEPTH + 1)}}` }, 400, "VALIDATION_FAILED"],
  ["unknown job name", "POST", "/queues/emails/jobs", "admin", { body: { name: "sms", payload: {} } }, 400, "UNKNOWN_JOB"],
  ["invalid JSON", "POST", "/queues/emails/jobs", "admin", { raw: '{"name": ' }, 400, "INVALID_JSON"],
  ["an empty body", "POST", "/queues/emails/jobs", "admin", { raw: "" }, 400, "INVALID_JSON"],
  ["a JSON array", "POST", "/queues/emails/jobs", "admin", { raw: "[]" }, 400, "VALIDATION_FAILED"],
  ["JSON null", "POST", "/queues/emails/jobs", "admin", { raw: "null" }, 400, "VALIDATION_FAILED"],
  ["a JSON string", "POST", "/queues/emails/jobs", "admin", { raw: '"email"' }, 400, "VALIDATION_FAILED"],
  ["a form", "POST", "/queues/emails/jobs", "admin", { headers: { "content-type": "application/x-www-form-urlencoded" }, raw: "name=email" }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ["text/plain", "POST", "/queues/emails/jobs", "admin", { headers: { "content-type": "text/plain" }, raw: JSON.stringify(good) }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ["no content type", "POST", "/queues/emails/jobs", "admin", { headers: { "content-type": "" }, raw: JSON.stringify(good) }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ["a body over 1 MiB", "POST", "/queues/emails/jobs", "admin", { body: { name: "email", payload: { to: "x".repeat(1_100_000) } } }, 413, "PAYLOAD_TOO_LARGE"],
  ["an empty bulk", "POST", "/queues/emails/jobs/bulk", "admin", { body: { jobs: [] } }, 400, "VALIDATION_FAILED"],
  ["1,001 jobs in bulk", "POST", "/queues/emails/jobs/bulk", "admin", { body: { jobs: Array(1_001).fill(good) } }, 400, "VALIDATION_FAILED"],
  ["bulk with one bad entry", "POST", "/queues/emails/jobs/bulk", "admin", { body: { jobs: [good, { name: "email", payload: { to: 1 } }] } }, 400, "VALIDATION_FAILED"],
  ["bulk with an unknown job", "POST", "/queues/emails/jobs/bulk", "admin", { body: { jobs: [good, { name: "sms", payload: {} }] } }, 400, "UNKNOWN_JOB"],
  ["dead retry ids not a list", "POST", "/queues/emails/dead/retry", "admin", { body: { ids: "1" } }, 400, "VALIDATION_FAILED"],
  ["dead retry with an empty id", "POST", "/queues/emails/dead/retry", "admin", { body: { ids: [""] } }, 400, "VALIDATION_FAILED"],
  // What: queries
  ["no state", "GET", "/queues/emails/jobs", "admin", {}, 400, "VALIDATION_FAILED"],
  ["unknown state", "GET", "/queues/emails/jobs?state=sleeping", "admin", {}, 400, "VALIDATION_FAILED"],
  ["limit not a number", "GET", "/queues/emails/jobs?state=waiting&limit=lots", "admin", {}, 400, "VALIDATION_FAILED"],
  ["limit over 1,000", "GET", "/queues/emails/jobs?state=waiting&limit=1001", "admin", {}, 400, "VALIDATION_FAILED"],
  ["limit 0", "GET", "/queues/emails/jobs?state=waiting&limit=0", "admin", {}, 400, "VALIDATION_FAILED"],
  ["dead letters, limit 0", "GET", "/queues/emails/dead?limit=0", "admin", {}, 400, "VALIDATION_FAILED"],
  ["negative offset", "GET", "/queues/emails/dead?offset=-1", "admin", {}, 400, "VALIDATION_FAILED"],
  ["unknown query field", "GET", "/queues/emails/jobs?state=waiting&debug=1", "admin", {}, 400, "VALIDATION_FAILED"],
  ["unknown event type", "GET", "/queues/emails/events?types=enqueued,bogus", "admin", {}, 400, "VALIDATION_FAILED"],
  ["health as XML", "GET", "/health?format=xml", "admin", {}, 400, "VALIDATION_FAILED"],
  // Jobs and schedules that are not there
  ["a missing job", "GET", "/queues/emails/jobs/nope", "admin", {}, 404, "JOB_NOT_FOUND"],
  ["cancel a missing job", "POST", "/queues/emails/jobs/nope/cancel", "admin", {}, 404, "JOB_NOT_FOUND"],
  ["retry a missing job", "POST", "/queues/emails/jobs/nope/retry", "admin", {}, 404, "JOB_NOT_FOUND"],
  ["retry missing dead jobs", "POST", "/queues/emails/dead/retry", "admin", { body: { ids: ["nope"] } }, 404, "JOB_NOT_FOUND"],
  ["a missing schedule", "GET", "/schedules/nope", "admin", {}, 404, "SCHEDULE_NOT_FOUND"],
  ["delete a missing schedule", "DELETE", "/schedules/nope", "admin", {}, 404, "SCHEDULE_NOT_FOUND"],
  ["pause a missing schedule", "POST", "/schedules/nope/pause", "admin", {}, 404, "SCHEDULE_NOT_FOUND"],
  ["trigger a missing schedule", "POST", "/schedules/nope/trigger", "admin", {}, 404, "SCHEDULE_NOT_FOUND"],
  // Schedules
  ["bad cron", "POST", "/schedules", "admin", { body: { ...schedule, when: { cron: "61 * * * *" } } }, 400, "VALIDATION_FAILED"],
  ["unknown timezone", "POST", "/schedules", "admin", { body: { ...schedule, options: { timezone: "Nowhere/City" } } }, 400, "VALIDATION_FAILED"],
  ["every 0 ms", "POST", "/schedules", "admin", { body: { ...schedule, when: { everyMs: 0 } } }, 400, "VALIDATION_FAILED"],
  ["cron and everyMs", "POST", "/schedules", "admin", { body: { ...schedule, when: { cron: "* * * * *", everyMs: 5 } } }, 400, "VALIDATION_FAILED"],
  ["a schedule id with a space", "PUT", "/schedules/a%20b", "admin", { body: { ...schedule, id: undefined } }, 400, "VALIDATION_FAILED"],
  ["schedule payload failing its schema", "POST", "/schedules", "admin", { body: { ...schedule, payload: { to: 1 } } }, 400, "VALIDATION_FAILED"],
  ["schedule for an unknown queue", "POST", "/schedules", "admin", { body: { ...schedule, queue: "nope" } }, 400, "UNKNOWN_JOB"],
  ["schedule for a traversal queue", "PUT", "/schedules/s", "admin", { body: { ...schedule, id: undefined, queue: "../../etc/passwd" } }, 400, "UNKNOWN_JOB"],
  ["schedule for an unknown job", "POST", "/schedules", "admin", { body: { ...schedule, job: "sms" } }, 400, "UNKNOWN_JOB"],
  // Workflows: who, where, what; each refused before anything is stored
  ["chain with the read scope", "POST", "/queues/emails/chains", "reader", { body: chain }, 403, "FORBIDDEN"],
  ["flow with another queue's scope", "POST", "/queues/emails/flows", "smsWriter", { body: flow }, 403, "FORBIDDEN"],
  ["batch with the read scope", "POST", "/queues/emails/batches", "reader", { body: { jobs: [good] } }, 403, "FORBIDDEN"],
  ["chain on an unknown queue", "POST", "/queues/nope/chains", "admin", { body: chain }, 404, "QUEUE_NOT_FOUND"],
  ["flow on an unknown queue", "POST", "/queues/nope/flows", "admin", { body: flow }, 404, "QUEUE_NOT_FOUND"],
  ["batch on an unknown queue", "POST", "/queues/nope/batches", "admin", { body: { jobs: [good] } }, 404, "QUEUE_NOT_FOUND"],
  ["a flow of an unknown queue", "GET", "/queues/nope/flows/1", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["a batch of an unknown queue", "GET", "/queues/nope/batches/1", "admin", {}, 404, "QUEUE_NOT_FOUND"],
  ["a missing flow", "GET", "/queues/emails/flows/nope", "admin", {}, 404, "JOB_NOT_FOUND"],
  ["a missing batch", "GET", "/queues/emails/batches/nope", "admin", {}, 404, "JOB_NOT_FOUND"],
  ["cancel a missing batch", "POST", "/queues/emails/jobs/nope/cancel", "admin", {}, 404, "JOB_NOT_FOUND"],
  ["chain steps not a list", "POST", "/queues/emails/chains", "admin", { body: { steps: "email" } }, 400, "VALIDATION_FAILED"],
  ["chain with no steps", "POST", "/queues/emails/chains", "admin", { body: { steps: [] } }, 400, "VALIDATION_FAILED"],
  ["chain step name a number", "POST", "/queues/emails/chains", "admin", { body: { steps: [{ name: 5, payload: {} }] } }, 400, "VALIDATION_FAILED"],
  ["chain step payload failing its schema", "POST", "/queues/emails/chains", "admin", { body: { steps: [good, { name: "note", payload: { text: 5 } }] } }, 400, "VALIDATION_FAILED"],
  ["an unknown job in a chain step", "POST", "/queues/emails/chains", "admin", { body: { steps: [good, { name: "sms" }] } }, 400, "UNKNOWN_JOB"],
  ["an unknown job in catch", "POST", "/queues/emails/chains", "admin", { body: { ...chain, catch: { name: "sms" } } }, 400, "UNKNOWN_JOB"],
  ["a chain step on an undeclared queue", "POST", "/queues/emails/chains", "admin", { body: { steps: [good, { name: "email", queue: "nope" }] } }, 400, "UNKNOWN_JOB"],
  ["a first step without a payload", "POST", "/queues/emails/chains", "admin", { body: { steps: [{ name: "email" }] } }, 400, "VALIDATION_FAILED"],
  ["a first step on another queue", "POST", "/queues/emails/chains", "admin", { body: { steps: [{ ...good, queue: "sms" }] } }, 400, "VALIDATION_FAILED"],
  ["a chain of MAX_CHAIN_STEPS + 1", "POST", "/queues/emails/chains", "admin", { body: { steps: Array(MAX_CHAIN_STEPS + 1).fill(good) } }, 400, "VALIDATION_FAILED"],
  ["catch and finally past MAX_CHAIN_STEPS", "POST", "/queues/emails/chains", "admin", { body: { steps: Array(MAX_CHAIN_STEPS - 1).fill(good), catch: note, finally: note } }, 400, "VALIDATION_FAILED"],
  ["a chain step with a jobId", "POST", "/queues/emails/chains", "admin", { body: { steps: [good, { ...note, options: { jobId: "x" } }] } }, 400, "VALIDATION_FAILED"],
  ["createdBy in a chain step", "POST", "/queues/emails/chains", "admin", { body: { steps: [{ ...good, options: { createdBy: "mallory" } }] } }, 400, "VALIDATION_FAILED"],
  ["an unknown chain step field", "POST", "/queues/emails/chains", "admin", { body: { steps: [{ ...good, job: "email" }] } }, 400, "VALIDATION_FAILED"],
  ["a chain step payload too deep", "POST", "/queues/emails/chains", "admin", { raw: `{"steps":[{"name":"email","payload":${nested(MAX_DATA_DEPTH + 1)}}]}` }, 400, "VALIDATION_FAILED"],
  ["flow payload of the wrong type", "POST", "/queues/emails/flows", "admin", { body: { ...flow, payload: { to: 5 } } }, 400, "VALIDATION_FAILED"],
  ["an unknown job in a flow's child", "POST", "/queues/emails/flows", "admin", { body: { ...good, children: [note, { name: "sms", payload: {} }] } }, 400, "UNKNOWN_JOB"],
  ["a flow child on an undeclared queue", "POST", "/queues/emails/flows", "admin", { body: { ...good, children: [{ ...note, queue: "nope" }] } }, 400, "UNKNOWN_JOB"],
  ["a flow MAX_FLOW_DEPTH + 1 deep", "POST", "/queues/emails/flows", "admin", { body: deepFlow(MAX_FLOW_DEPTH + 1) }, 400, "VALIDATION_FAILED"],
  ["a flow nested 3,000 levels", "POST", "/queues/emails/flows", "admin", { raw: '{"name":"note","payload":{"text":"x"},"children":['.repeat(3_000) + "{}" + "]}".repeat(3_000) }, 400, "VALIDATION_FAILED"],
  ["a flow of MAX_FLOW_JOBS + 1", "POST", "/queues/emails/flows", "admin", { body: { ...good, children: Array(MAX_FLOW_JOBS).fill(note) } }, 400, "VALIDATION_FAILED"],
  ["a flow child's onFailure unknown", "POST", "/queues/emails/flows", "admin", { body: { ...good, children: [{ ...note, onFailure: "retry" }] } }, 400, "VALIDATION_FAILED"],
  ["a flow child with a jobId", "POST", "/queues/emails/flows", "admin", { body: { ...good, children: [{ ...note, options: { jobId: "x" } }] } }, 400, "VALIDATION_FAILED"],
  ["a flow job with delayMs and runAt", "POST", "/queues/emails/flows", "admin", { body: { ...good, options: { delayMs: 5, runAt: 1 } } }, 400, "VALIDATION_FAILED"],
  ["a flow's root on another queue", "POST", "/queues/emails/flows", "admin", { body: { ...flow, queue: "sms" } }, 400, "VALIDATION_FAILED"],
  ["flow children not a list", "POST", "/queues/emails/flows", "admin", { body: { ...good, children: { 0: note } } }, 400, "VALIDATION_FAILED"],
  ["a batch of no jobs", "POST", "/queues/emails/batches", "admin", { body: { jobs: [] } }, 400, "VALIDATION_FAILED"],
  ["an unknown job in a batch", "POST", "/queues/emails/batches", "admin", { body: { jobs: [good, { name: "sms", payload: {} }] } }, 400, "UNKNOWN_JOB"],
  ["an unknown job in a batch's then", "POST", "/queues/emails/batches", "admin", { body: { jobs: [good], then: { name: "sms" } } }, 400, "UNKNOWN_JOB"],
  ["allowFailures not a boolean", "POST", "/queues/emails/batches", "admin", { body: { jobs: [good], allowFailures: "yes" } }, 400, "VALIDATION_FAILED"],
  ["a batch job failing its schema", "POST", "/queues/emails/batches", "admin", { body: { jobs: [{ name: "email", payload: { to: "nope" } }] } }, 400, "VALIDATION_FAILED"],
  ["a batch of MAX_FLOW_JOBS jobs (the batch makes one more)", "POST", "/queues/emails/batches", "admin", { body: { jobs: Array(MAX_FLOW_JOBS).fill(good) } }, 400, "VALIDATION_FAILED"],
  ["a batch on another queue", "POST", "/queues/emails/batches", "admin", { body: { jobs: [good], queue: "sms" } }, 400, "VALIDATION_FAILED"],
  ["a schedule with a job and a chain", "POST", "/schedules", "admin", { body: { ...schedule, chain } }, 400, "VALIDATION_FAILED"],
  ["a schedule with nothing to start", "POST", "/schedules", "admin", { body: bare }, 400, "VALIDATION_FAILED"],
  ["a schedule with a job and no payload", "POST", "/schedules", "admin", { body: { ...bare, job: "email" } }, 400, "VALIDATION_FAILED"],
  ["a schedule with a chain and a payload", "POST", "/schedules", "admin", { body: { ...bare, chain, payload: {} } }, 400, "VALIDATION_FAILED"],
  ["a scheduled chain with an unknown step", "POST", "/schedules", "admin", { body: { ...bare, chain: { steps: [good, { name: "sms" }] } } }, 400, "UNKNOWN_JOB"],
  ["a scheduled chain too long", "PUT", "/schedules/s", "admin", { body: { ...bare, id: undefined, chain: { steps: Array(MAX_CHAIN_STEPS + 1).fill(good) } } }, 400, "VALIDATION_FAILED"],
  ["a scheduled flow too deep", "POST", "/schedules", "admin", { body: { ...bare, flow: deepFlow(MAX_FLOW_DEPTH + 1) } }, 400, "VALIDATION_FAILED"],
  ["a scheduled batch on an undeclared queue", "POST", "/schedules", "admin", { body: { ...bare, batch: { jobs: [{ ...good, queue: "nope" }] } } }, 400, "UNKNOWN_JOB"],
  ["a scheduled flow with a bad payload", "POST", "/schedules", "admin", { body: { ...bare, flow: { ...flow, payload: { to: 1 } } } }, 400, "VALIDATION_FAILED"],
  // The audit log
  ["the audit log without a token", "GET", "/audit", null, {}, 401, "UNAUTHENTICATED"],
  ["the audit log with jobs:read", "GET", "/audit", "reader", {}, 403, "FORBIDDEN"],
  ["the audit export with jobs:read", "GET", "/audit/export", "reader", {}, 403, "FORBIDDEN"],
  ["the audit log with a schedule scope", "GET", "/audit?limit=5", "scheduleReader", {}, 403, "FORBIDDEN"],
  ["audit limit 0", "GET", "/audit?limit=0", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit limit over 1,000", "GET", "/audit?limit=1001", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit limit not a number", "GET", "/audit?limit=lots", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit from not a time", "GET", "/audit?from=yesterday", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit to an impossible date", "GET", "/audit?to=2026-13-45", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit from a negative time", "GET", "/audit?from=-5", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit before not a cursor", "GET", "/audit?before=abc", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit after a cursor with junk", "GET", "/audit?after=1-0%20OR%201", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit before and after", "GET", "/audit?before=1-0&after=1-0", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit by an unknown filter", "GET", "/audit?debug=1", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit by jobId (the filter is job)", "GET", "/audit?jobId=1", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit by an unknown outcome", "GET", "/audit?outcome=maybe", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit by an empty actor", "GET", "/audit?actor=", "admin", {}, 400, "VALIDATION_FAILED"],
  ["audit by a 101-character action", "GET", `/audit?action=${"a".repeat(101)}`, "admin", {}, 400, "VALIDATION_FAILED"],
  ["export as XML", "GET", "/audit/export?format=xml", "admin", {}, 400, "VALIDATION_FAILED"],
  ["export from a cursor", "GET", "/audit/export?before=1-0", "admin", {}, 400, "VALIDATION_FAILED"],
  ["export with a limit", "GET", "/audit/export?limit=5", "admin", {}, 400, "VALIDATION_FAILED"],
  ["POST to the audit log", "POST", "/audit", "admin", { body: {} }, 405, "METHOD_NOT_ALLOWED"],
  ["DELETE the audit log", "DELETE", "/audit", "admin", {}, 405, "METHOD_NOT_ALLOWED"],
];

describe("HTTP app: a table of bad requests", () => {
  let apps: Apps;
  before(async () => apps = await badInputApps());
  after(async () => await apps.close());

  const variants = [
    ["alone", "", (a: Apps) => a.jobs],
    ["under /jobs, mounted before the broadcast app at /", "/jobs", (a: Apps) => a.hosts.jobsFirst],
    ["under /jobs, mounted after the broadcast app at /", "/jobs", (a: Apps) => a.hosts.broadcastFirst],
  ] as const;
  for (const [where, prefix, pick] of variants) {
    test(`${ROWS.length} bad requests, ${where}: typed 4xx JSON, nothing stored, no queue made`, async () => {
      const app = pick(apps);
      let newest = (await apps.conveyor.audit.query({ limit: 1 })).entries[0]?.cursor;
      for (const [what, method, path, who, request, status, code] of ROWS) {
        const auth = who === null ? {} : typeof who === "string" ? bearer(apps.tokens[who]) : who;
        const res = await apps.send(app, method, prefix + path, { ...request, headers: { ...auth, ...request.headers } });
        assert.equal(res.status, status, `${what}: ${method} ${path} answered ${res.status} ${res.text.slice(0, 300)}`);
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/, `${what}: JSON`);
        assert.equal(res.json?.error?.code, code, `${what}: code`);
        assert.equal(typeof res.json.error.message, "string", `${what}: message`);
        assert.ok(Array.isArray(res.json.error.issues), `${what}: issues is a list`);
        if (status === 405) assert.ok(res.headers.get("allow"), `${what}: Allow says what would do`);
        assert.deepEqual(apps.spy.changes(), [], `${what}: nothing changed in the store`);
        assert.deepEqual([...apps.conveyor.queues.keys()], ["emails"], `${what}: no queue made`);
        assert.deepEqual([...apps.spy.queuesNamed].filter((q) => q !== "emails"), [], `${what}: the store never heard of another queue`);
        const [entry] = (await apps.conveyor.audit.query({ limit: 1 })).entries;
        if (status === 401 || status === 403) {
          assert.notEqual(entry?.cursor, newest, `${what}: the refusal is in the audit log`);
          assert.equal(entry!.action, status === 401 ? "auth.refused" : "auth.forbidden", `${what}: recorded as a refusal`);
        }
        newest = entry?.cursor;
      }
      assert.deepEqual(await apps.conveyor.queue("emails").counts(), { waiting: 0, paused: 0, delayed: 0, active: 0, "waiting-children": 0, completed: 0, failed: 0, dead: 0, cancelled: 0 });
      assert.deepEqual(await apps.conveyor.store.listRecords("schedules"), []);
      const listed = await apps.send(app, "GET", `${prefix}/queues`, { headers: bearer(apps.tokens.admin) });
      assert.deepEqual(listed.json.queues.map((q: { name: string }) => q.name), ["emails"], "/queues lists only the declared queue");
      const metrics = await apps.send(app, "GET", `${prefix}/metrics`, { headers: bearer(apps.tokens.admin) });
      assert.doesNotMatch(metrics.text, /queue="(?!emails")/, "/metrics names only the declared queue");
    });
  }
});
