// The redaction crawl on Redis: the same planted jobs run by a worker on a RedisStore. Every GET
// route answers a reader without a payload scope with none of the secrets, and the raw keys hold
// none outside the job data kept as given (payloads, results, progress, steps): logs, errors,
// dead-letter info, audit entries and indexes are redacted before they reach Redis.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { RedisStore } from "../redis.ts";
import { crawl, plant, READER_SCOPES, type Scenario, scenario } from "./support/redaction-scenario.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";
import { runtime } from "./support/runtime.ts";
import { KEYED, leaks } from "./support/secrets.ts";

/**
 * Job data, stored as given on purpose: the job hash's fields and the keys that hold it (step
 * results, a parent's child outcomes, schedule records with their targets' payloads).
 */
const DATA_FIELDS = new Set(["data", "res", "prog", "chain"]);
const DATA_KEYS = /:(steps|outcomes):|:records:\{schedules\}$/;

describe(`redaction end to end on Redis (${runtime})`, () => {
  let server: RedisServer;
  let redis: Redis;
  let s: Scenario;

  before(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
    s = scenario(new RedisStore({ connection: server.url, prefix: "crawl" }));
    await s.conveyor.queue("vault").events.ready();
    await plant(s);
    // Audit entries are written in batches: let the last one land.
    await new Promise((resolve) => setTimeout(resolve, 200));
  });

  after(async () => {
    await s?.conveyor.close({ timeoutMs: 0 });
    redis?.disconnect();
    await server?.stop();
  });

  test("every GET route, for a reader without jobs:payload: nothing planted comes back", async () => {
    const answers = await crawl(s, READER_SCOPES, { stacks: false });
    assert.ok(answers.size >= 20, `crawled ${answers.size} URLs`);
    for (const [url, { status, text }] of answers) {
      assert.ok(status === 200 || status === 404 || (status === 503 && url.startsWith("/health")), `${url}: ${status} ${text}`);
      assert.deepEqual(leaks(text), [], url);
    }
  });

  test("the raw keys: logs, errors, dead-letter info and audit entries hold no secret; payloads are stored as given", async () => {
    const keys = await redis.keys("*");
    let checked = 0;
    let logs = 0;
    let payloads = 0;
    for (const key of keys) {
      if (DATA_KEYS.test(key)) continue;
      const type = await redis.type(key);
      let text: string;
      if (type === "string") text = (await redis.get(key)) ?? "";
      else if (type === "list") {
        const lines = await redis.lrange(key, 0, -1);
        if (key.includes(":logs:")) logs += lines.length;
        text = lines.join("\n");
      } else if (type === "hash") {
        const fields = await redis.hgetall(key);
        if (fields.data?.includes(KEYED.password)) payloads++;
        text = JSON.stringify(Object.entries(fields).filter(([field]) => !DATA_FIELDS.has(field)));
      } else if (type === "zset") text = (await redis.zrange(key, 0, -1)).join("\n");
      else if (type === "set") text = (await redis.smembers(key)).join("\n");
      else if (type === "stream") text = JSON.stringify(await redis.xrange(key, "-", "+"));
      else continue;
      assert.deepEqual(leaks(text), [], `${type} ${key}`);
      checked++;
    }
    assert.ok(checked > 10, `checked ${checked} keys`);
    assert.ok(logs > 0, "log lines were written");
    assert.ok(payloads > 0, "payloads stay as given in the store");
    assert.ok(keys.some((key) => /audit/.test(key)), "the audit log is in Redis, and was checked");
  });
});
