// `conveyor backup` and `conveyor restore`: a Redis store to and from a gzip JSON-lines file.
import * as v from "valibot";
import { isConveyorError } from "../core/errors.ts";
import { NameSchema } from "../core/names.ts";
import type { QueueStore } from "../core/store-contract.ts";
import { summarise, check } from "../core/validation.ts";
import { backup } from "../jobs/backup.ts";
import { BackupFormatError } from "../jobs/backup-format.ts";
import { restore } from "../jobs/restore.ts";
import type { CliIo, Command } from "./command.ts";

const STORE_FLAGS = [
  "  --redis     the Redis URL (or the CONVEYOR_REDIS_URL environment variable)",
  "  --prefix    the store's key prefix                                     [default: conveyor]",
];

const StoreArgs = v.object({ redis: v.pipe(v.string(), v.url()), prefix: v.optional(v.pipe(v.string(), v.minLength(1))) });

/** The store the flags name; ioredis is loaded only by these commands. */
async function openStore(args: Map<string, string>, io: CliIo, command: string): Promise<QueueStore | null> {
  const parsed = check(StoreArgs, { redis: args.get("redis") ?? (io.env.CONVEYOR_REDIS_URL || undefined), prefix: args.get("prefix") }, "store flags");
  if (!parsed.ok) {
    io.err(`conveyor ${command}: ${summarise(parsed.issues)} (--redis redis://host:6379)`);
    return null;
  }
  const { RedisStore } = await import("../store/redis/store.ts");
  return new RedisStore({ connection: parsed.value.redis, ...(parsed.value.prefix ? { prefix: parsed.value.prefix } : {}) });
}

function failed(io: CliIo, command: string, error: unknown): number {
  if (error instanceof BackupFormatError) io.err(`conveyor ${command}: ${error.message}; nothing was imported`);
  else if (isConveyorError(error)) io.err(`conveyor ${command}: ${error.message}`);
  else io.err(`conveyor ${command}: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}

export const backupCommand: Command = {
  summary: "write a store's queues, schedules and audit log to a gzip JSON-lines file",
  values: ["redis", "prefix", "queues", "out"],
  switches: ["json"],
  usage: [
    "conveyor backup --redis <url> --queues <list> --out <file.jsonl.gz> [--prefix <p>] [--json]",
    "",
    ...STORE_FLAGS,
    "  --queues    comma-separated queues to export (queues that schedules fire into are added)",
    "  --out       the archive to write",
    "  --json      print what was written as JSON",
  ].join("\n"),
  async run(args, io) {
    const queues = (args.get("queues") ?? "").split(/[,\s]+/).filter(Boolean);
    const out = args.get("out");
    if (!out || !queues.every((q) => v.is(NameSchema, q))) {
      io.err(`conveyor backup: needs --out <file> and --queues <list> of queue names\n\n${this.usage}`);
      return 2;
    }
    if (!io.files) return failed(io, "backup", new Error("this runtime gave the command no file access"));
    const store = await openStore(args, io, "backup");
    if (!store) return 2;
    try {
      const result = await backup(store, io.files.create(out), { queues });
      io.out(args.get("json") ? JSON.stringify(result) : `wrote ${result.jobs} jobs of ${result.queues} queues, ${result.records} records, ${result.audit} audit entries to ${out}`);
      return 0;
    } catch (error) {
      return failed(io, "backup", error);
    } finally {
      await store.close();
    }
  },
};

export const restoreCommand: Command = {
  summary: "import a backup file into a store (checked first: a bad file imports nothing)",
  values: ["redis", "prefix", "in"],
  switches: ["json"],
  usage: [
    "conveyor restore --redis <url> --in <file.jsonl.gz> [--prefix <p>] [--json]",
    "",
    ...STORE_FLAGS,
    "  --in        the archive to read (three times: checked, then imported in two passes)",
    "  --json      print what was imported as JSON",
    "",
    "Restore into queues no worker runs on. Exit 1 on a bad archive (the line is named) or a busy queue.",
  ].join("\n"),
  async run(args, io) {
    const path = args.get("in");
    if (!path) {
      io.err(`conveyor restore: needs --in <file>\n\n${this.usage}`);
      return 2;
    }
    const files = io.files;
    if (!files) return failed(io, "restore", new Error("this runtime gave the command no file access"));
    const store = await openStore(args, io, "restore");
    if (!store) return 2;
    try {
      const result = await restore(store, () => files.open(path));
      io.out(args.get("json") ? JSON.stringify(result) : `imported ${result.jobs - result.skipped} jobs of ${result.queues} queues (${result.skipped} already there), ${result.records} records, ${result.audit} audit entries`);
      return 0;
    } catch (error) {
      return failed(io, "restore", error);
    } finally {
      await store.close();
    }
  },
};
