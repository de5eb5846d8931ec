// What every `conveyor` subcommand is: its flags, its usage text and how it runs.
import type { Clock } from "../core/clock.ts";

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
  readonly clock?: Clock;
  /** How commands reach a server. @default globalThis.fetch (tests pass an app's `request`) */
  readonly fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** How `backup` and `restore` reach files; the entry scripts give src/adapter/files.ts. @default none (those commands refuse) */
  readonly files?: CliFiles;
}

/** Files as Web Streams, so the commands stay runtime-agnostic. */
export interface CliFiles {
  create(path: string): WritableStream<Uint8Array>;
  open(path: string): ReadableStream<Uint8Array>;
}

/** Exit codes: 0 done, 1 failed, 2 the command was used wrongly; a command may add its own (see its usage). */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  /** Flags that take a value (`--name value` or `--name=value`). */
  readonly values: readonly string[];
  /** Flags that stand alone (`--json`); they read as "true". */
  readonly switches?: readonly string[];
  run(args: Map<string, string>, io: CliIo): Promise<number>;
}
