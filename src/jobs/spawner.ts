// What the command job needs from a runtime: starting a program with an argument array (no
// shell), reading its output as Web streams, signalling it, and reading the parent's
// environment. One small implementation per runtime lives in src/adapter/*-system.ts.

export interface SpawnRequest {
  /** The program as allow-listed: a name looked up on the child's PATH, or a path. */
  readonly program: string;
  /** Passed to the program one by one, as they are: no shell ever sees them. */
  readonly args: readonly string[];
  readonly cwd: string | undefined;
  /** The child's whole environment (nothing else is inherited). */
  readonly env: Readonly<Record<string, string>>;
}

export interface ExitStatus {
  /** The exit code, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: string | null;
}

export interface SpawnedProcess {
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  /** Resolves when it exits; rejects when it could not start (no such program: an error with `code: "ENOENT"`). */
  readonly exited: Promise<ExitStatus>;
  kill(signal: "SIGTERM" | "SIGKILL"): void;
}

export interface ProcessSpawner {
  readonly runtime: "node" | "bun" | "deno" | "cloudflare";
  /** Set where no process can be started (Workers): why. `commandJob` then refuses at definition. */
  readonly unsupported?: string;
  spawn(request: SpawnRequest): SpawnedProcess;
  /** The parent's variable, for the names `commandJob({ inheritEnv })` passes on. */
  env(name: string): string | undefined;
}
