// A live view of a queue in the terminal: counts per state, running jobs with progress bars
// and the latest events. Redraws in place on a TTY; prints a plain line a second otherwise.
import type { ConveyorEventData, JobCounts, Queue } from "../mod.ts";

const STATES = ["waiting", "delayed", "active", "completed", "failed", "dead", "cancelled"] as const;

export class TerminalView {
  readonly #queue: Queue;
  readonly #tty: boolean;
  readonly #write: (text: string) => void;
  readonly #progress = new Map<string, { name: string; pct: number }>();
  readonly #recent: string[] = [];
  #lines = 0;
  #lastPlain = 0;

  constructor(queue: Queue, out: { isTTY?: boolean; write(text: string): unknown }) {
    this.#queue = queue;
    this.#tty = Boolean(out.isTTY);
    this.#write = (text) => void out.write(text);
    for (const type of ["active", "progress", "completed", "retrying", "dead", "failed"] as const) {
      queue.events.addEventListener(type, (event) => this.#onEvent(event.data));
    }
  }

  async render(elapsedMs: number): Promise<void> {
    const counts = await this.#queue.counts();
    if (this.#tty) this.#redraw(counts, elapsedMs);
    else if (elapsedMs - this.#lastPlain >= 1_000) {
      this.#lastPlain = elapsedMs;
      this.#write(`[${(elapsedMs / 1000).toFixed(1)} s] ${STATES.map((s) => `${s} ${counts[s]}`).join(", ")}\n`);
    }
  }

  #onEvent(event: ConveyorEventData): void {
    if (event.type === "active") this.#progress.set(event.jobId, { name: event.name, pct: 0 });
    if (event.type === "progress" && typeof event.progress === "number") {
      const entry = this.#progress.get(event.jobId);
      if (entry) entry.pct = event.progress;
    }
    if (event.type === "completed" || event.type === "dead" || event.type === "failed") this.#progress.delete(event.jobId);
    const line = describe(event);
    if (line) {
      this.#recent.push(line);
      if (this.#recent.length > 8) this.#recent.shift();
      if (!this.#tty && event.type !== "completed") this.#write(`  ${line}\n`);
    }
  }

  #redraw(counts: JobCounts, elapsedMs: number): void {
    const total = STATES.reduce((sum, s) => sum + counts[s], 0) || 1;
    const lines = [
      `Conveyor demo — queue "${this.#queue.name}" — ${(elapsedMs / 1000).toFixed(1)} s`,
      "",
      ...STATES.map((s) => `  ${s.padEnd(10)} ${String(counts[s]).padStart(4)}  ${bar(counts[s] / total, 40)}`),
      "",
      "  running:",
      ...[...this.#progress.entries()].slice(0, 8).map(([id, p]) =>
        `    #${id.padEnd(5)} ${p.name.padEnd(15)} ${bar(p.pct / 100, 20)} ${String(p.pct).padStart(3)}%`
      ),
      "",
      "  latest events:",
      ...this.#recent.map((line) => `    ${line}`),
    ];
    const clear = this.#lines > 0 ? `\x1b[${this.#lines}F\x1b[J` : "";
    this.#write(clear + lines.join("\n") + "\n");
    this.#lines = lines.length;
  }
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}

function describe(event: ConveyorEventData): string | undefined {
  switch (event.type) {
    case "completed":
      return `✓ #${event.jobId} ${event.name} in ${event.durationMs} ms`;
    case "retrying":
      return `↻ #${event.jobId} ${event.name} retry ${event.attempt} at +${event.retryAt - event.at} ms`;
    case "failed":
      return `✗ #${event.jobId} ${event.name} attempt ${event.attempt}: ${event.error.code ?? event.error.name}: ${event.error.message}`;
    case "dead":
      return `☠ #${event.jobId} ${event.name} → dead-letter store (${event.deadLetter.reason})`;
    default:
      return undefined;
  }
}
