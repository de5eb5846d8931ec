import type { Clock, TimerHandle } from "../core/clock.ts";
import { ConveyorError } from "../core/errors.ts";
import { reportError } from "../util/report-error.ts";

/** One transition's writes, applied in order; running them again is harmless (sets and removes). */
export type WriteBatch = () => Promise<void>;

interface Pending {
  readonly write: WriteBatch;
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/**
 * Writes batches to storage one at a time, in the order they were queued. A batch that fails
 * is retried (100 ms, doubling to 5 s) until it is stored, and the batches behind it wait:
 * storage never misses a change or gets one out of order, and one failed write never blocks
 * later ones once storage answers again. Failures are reported, never swallowed.
 *
 * Each caller waits for its own batch. Only closing the store, or losing its claim, gives up
 * batches not yet stored; their callers' promises reject with the reason.
 */
export class WriteQueue {
  readonly #clock: Clock;
  readonly #guard: () => Promise<void> | undefined;
  readonly #label: string;
  readonly #pending: Pending[] = [];
  #running = false;
  #closing = false;
  #stop: unknown;
  #timer: TimerHandle | undefined;
  #wake: (() => void) | undefined;

  /** `guard` runs before every write and throws when this process may no longer write. */
  constructor(options: { clock: Clock; guard: () => Promise<void> | undefined; label: string }) {
    this.#clock = options.clock;
    this.#guard = options.guard;
    this.#label = options.label;
  }

  /** Queues a batch; resolves once it (and everything queued before it) is stored. */
  push(write: WriteBatch): Promise<void> {
    if (this.#stop !== undefined) return Promise.reject(this.#stop);
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => {}); // the caller awaits it; this only keeps a give-up from counting as unhandled
    this.#pending.push({ write, done, resolve, reject });
    void this.#run();
    return done;
  }

  /** Resolves once everything queued so far is stored. */
  settled(): Promise<void> {
    return this.#pending.at(-1)?.done ?? Promise.resolve();
  }

  /** Gives up every batch not yet stored, and every later one, with `error`. */
  fail(error: unknown): void {
    this.#stop ??= error;
    this.#interrupt();
  }

  /** Tries each batch still queued once more, gives up the rest; resolves with how many were given up. */
  async close(): Promise<number> {
    this.#closing = true;
    this.#interrupt();
    const results = await Promise.allSettled(this.#pending.map((p) => p.done));
    return results.filter((r) => r.status === "rejected").length;
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    let failures = 0;
    while (this.#pending.length > 0) {
      const batch = this.#pending[0]!;
      if (this.#stop !== undefined) {
        this.#giveUp(this.#stop);
        break;
      }
      try {
        await this.#guard();
        await batch.write();
      } catch (error) {
        if (this.#stop !== undefined) continue;
        failures++;
        if (this.#closing) {
          reportError(error, `${this.#label} closed while a change could not be stored`);
          this.#giveUp(new ConveyorError("STORE_CLOSED", `${this.#label} was closed while storage refused a change; it was not stored`, { cause: error }));
          break;
        }
        const delayMs = Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS);
        // Report the 1st, 2nd, 4th, 8th … failure of a batch: an outage is visible without flooding the log.
        if ((failures & (failures - 1)) === 0) {
          reportError(error, `${this.#label} could not store a change (${failures} failed ${failures === 1 ? "try" : "tries"}); retrying in ${delayMs} ms, later changes wait`);
        }
        await this.#pause(delayMs);
        continue;
      }
      failures = 0;
      this.#pending.shift();
      batch.resolve();
    }
    this.#running = false;
  }

  #giveUp(error: unknown): void {
    for (const batch of this.#pending.splice(0)) batch.reject(error);
  }

  #pause(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = this.#clock.setTimeout(resolve, delayMs);
    });
  }

  /** Cuts a retry wait short, so closing or a lost claim is acted on at once. */
  #interrupt(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
