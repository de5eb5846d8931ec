// What every `conveyor` subcommand is: its flags, its usage text and how it runs.
import type { Clock } from "../core/clock.ts";

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
  readonly clock?: Clock;
  /** How commands reach a server. @default globalThis.fetch (tests pass an app's `request`) */
  readonly fetch?: (url: string, init: RequestInit) => Promise<Response>;
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
