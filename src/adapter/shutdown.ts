// Stopping a server process on SIGTERM or SIGINT, the same on every runtime that has signals:
// each adapter only says how to listen for a signal and how to exit.

export interface ShutdownOptions {
  /** Exit 1 if stopping has not finished by then. @default 30000 */
  deadlineMs?: number;
}

/** Runs `stop` once on the first signal, then exits 0 (1 when it throws or overruns the deadline). */
export function shutdownOnSignals(
  listen: (signal: "SIGTERM" | "SIGINT", handler: () => void) => void,
  exit: (code: number) => void,
  stop: () => Promise<void>,
  options: ShutdownOptions = {},
): void {
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => {
      console.error("conveyor: shutdown overran its deadline; exiting");
      exit(1);
    }, options.deadlineMs ?? 30_000);
    stop().then(
      () => {
        clearTimeout(deadline);
        exit(0);
      },
      (error) => {
        console.error("conveyor: shutdown failed:", error);
        exit(1);
      },
    );
  };
  listen("SIGTERM", onSignal);
  listen("SIGINT", onSignal);
}
