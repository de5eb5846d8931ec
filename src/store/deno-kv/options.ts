import type { Clock } from "../../core/clock.ts";
import type { DenoKv } from "./kv.ts";

export interface DenoKvStoreOptions {
  /** `await Deno.openKv(path)` on Deno, or `await openKv(path)` from `@deno/kv` on Node and Bun. */
  kv: DenoKv;
  /** First part of every key. @default "conveyor" */
  prefix?: string;
  /** How often other processes' events (new jobs for workers among them) are read. @default 100 */
  pollMs?: number;
  /** Also follow the log with `kv.watch` (it sees other isolates on Deno Deploy, not other processes on SQLite). @default false */
  watch?: boolean;
  /**
   * Times the event-log polls, and stamps the few writes whose call passes no `now` (`appendLog`,
   * `clean`). Give it the conveyor's clock. Pauses after a conflict or a busy SQLite lock stay on
   * real time: they wait for other writers, which fake time cannot hurry. @default systemClock
   */
  clock?: Clock;
}
