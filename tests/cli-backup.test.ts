// `conveyor backup` and `conveyor restore` against a Redis server of the test's own: a store
// written to a file and read back under another prefix; a corrupt file imports nothing.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { RedisStore } from "../redis.ts";
import { nodeFiles } from "../src/adapter/files.ts";
import { runCli } from "../src/cli/main.ts";
import { fillStore, snapshot } from "./support/backup-fixture.ts";
import { type RedisServer, startRedis } from "./support/redis-server.ts";

let server: RedisServer;
let dir: string;
before(async () => {
  server = await startRedis();
  dir = mkdtempSync(join(tmpdir(), "conveyor-cli-backup-"));
});
after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  let out = "", err = "";
  const code = await runCli(argv, { env: {}, out: (t) => out += `${t}\n`, err: (t) => err += `${t}\n`, files: nodeFiles });
  return { code, out, err };
}

test("backup to a file, restore under another prefix", async () => {
  const source = new RedisStore({ connection: server.url, prefix: "cli-src", leaseClock: "caller" });
  const target = new RedisStore({ connection: server.url, prefix: "cli-dst", leaseClock: "caller" });
  try {
    await fillStore(source);
    const file = join(dir, "archive.jsonl.gz");
    const written = await cli("backup", "--redis", server.url, "--prefix", "cli-src", "--queues", "emails", "--out", file);
    assert.equal(written.code, 0, written.err);
    assert.match(written.out, /wrote 12 jobs of 2 queues, 2 records, 2 audit entries/);
    const read = await cli("restore", "--redis", server.url, "--prefix=cli-dst", "--in", file, "--json");
    assert.equal(read.code, 0, read.err);
    assert.equal(JSON.parse(read.out).jobs, 12);
    const [a, b] = [await snapshot(source), await snapshot(target)];
    assert.deepEqual(b.records, a.records);
    // The restore runs on the system clock, years after the fixture's times: delayed jobs arrive due.
    const [was, now] = [a, b].map((s) => (s.queues.emails as { counts: Record<string, number> }).counts);
    for (const state of ["completed", "failed", "dead", "cancelled"]) assert.equal(now![state], was![state], state);
    assert.equal(now!.waiting! + now!.delayed!, was!.waiting! + was!.delayed! + was!.active!);
  } finally {
    await source.close();
    await target.close();
  }
});

test("a corrupt file: exit 1, the line named, nothing imported", async () => {
  const file = join(dir, "bad.jsonl.gz");
  writeFileSync(file, "not gzip at all");
  const read = await cli("restore", "--redis", server.url, "--prefix", "cli-bad", "--in", file);
  assert.equal(read.code, 1);
  assert.match(read.err, /Backup line 1: .*nothing was imported/);
  const store = new RedisStore({ connection: server.url, prefix: "cli-bad" });
  try {
    assert.equal((await store.counts("emails")).waiting, 0);
    assert.deepEqual(await store.listRecords("schedules"), []);
  } finally {
    await store.close();
  }
});

test("used wrongly: exit 2 with the usage", async () => {
  const noOut = await cli("backup", "--redis", server.url, "--queues", "emails");
  assert.equal(noOut.code, 2);
  assert.match(noOut.err, /needs --out/);
  const badUrl = await cli("restore", "--redis", "nowhere", "--in", "x");
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.err, /redis/);
});
