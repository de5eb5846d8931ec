import type { NewJob, QueueStore } from "../mod.ts";

/**
 * A store under test: how the conformance suite makes stores of one backend. A store written
 * outside this repository proves itself with the same cases by describing itself here.
 */
export interface StoreUnderTest {
  /** Shown in the suite's title. */
  readonly name: string;
  /** A fresh, empty store for each test (a new key prefix, a new file …). */
  create(): QueueStore | Promise<QueueStore>;
  /**
   * A second store over the same data as `store`, as another process would open it. Required
   * when the store declares `sharedAcrossProcesses`: the suite proves the claim with it.
   */
  sibling?(store: QueueStore): QueueStore | Promise<QueueStore>;
  /**
   * Closes `store` and opens its data again, as a restarted process would. Required when the
   * store declares `durable`.
   */
  reopen?(store: QueueStore): Promise<QueueStore>;
  /**
   * How a child process opens the same data as `store`, for the cases run with real processes
   * (several worker processes on one queue, a worker killed with SIGKILL, a producer killed
   * before anyone read its jobs). `module` is the path or file URL of a module exporting
   * `openStore(env)`, resolving to a store; `env(store)` gives the variables it reads to open
   * the data `store` uses. Given, the cases run on stores that declare `sharedAcrossProcesses`.
   */
  processes?: {
    readonly module: string;
    env(store: QueueStore): Record<string, string>;
    /** Jobs the shared-queue case spreads over three worker processes. @default 30 */
    readonly jobs?: number;
  };
  /** Before the suite (start a server); `teardown` after it. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

export const T0 = 1_700_000_000_000;
export const Q = "conformance";

/** A job as a producer would hand it to the store; every field can be overridden. */
export function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: null,
    name: "job",
    payload: { n: 1 },
    priority: 200,
    createdAt: T0,
    runAt: T0,
    maxAttempts: 1,
    backoff: { type: "fixed", delayMs: 0 },
    timeoutMs: null,
    dedupKey: null,
    removeOnComplete: { count: null, ageMs: null },
    removeOnFail: { count: null, ageMs: null },
    deadLetter: true,
    createdBy: null,
    ...overrides,
  };
}

/** Polls `check` in real time, for events and work that cross a network. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
