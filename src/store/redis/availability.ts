import { ConveyorError } from "../../core/errors.ts";
import type { RedisClient } from "./connection.ts";

/** How long a call may wait on Redis by default before it rejects with STORE_UNAVAILABLE. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/**
 * ioredis states in which a command would go to its offline queue, to be sent whenever the
 * connection comes back. ("wait" and "end" are left to ioredis: it connects, or it refuses.)
 */
const OFFLINE = new Set(["connecting", "connect", "reconnecting", "close"]);

/** Calls waiting for a client to be ready again, per client: one "ready" listener each. */
const waiting = new WeakMap<RedisClient, Set<() => void>>();

function whenReady(client: RedisClient, wake: () => void): () => void {
  let waiters = waiting.get(client);
  if (!waiters) {
    const set = new Set<() => void>();
    waiters = set;
    waiting.set(client, set);
    client.on("ready", () => {
      const woken = [...set];
      set.clear();
      for (const resolve of woken) resolve();
    });
  }
  waiters.add(wake);
  return () => waiters.delete(wake);
}

/**
 * Bounds every call on Redis to `timeoutMs`, so an unreachable Redis makes callers fail with
 * STORE_UNAVAILABLE instead of waiting forever (ioredis queues commands through an outage).
 *
 * A call made while the client is reconnecting waits for it; if the time runs out first the
 * call is never sent, so it cannot take effect later behind the caller's back. A call that was
 * sent and not answered in time (a server that is paused, or gone without the socket noticing)
 * is rejected too, but Redis may still run it when it answers again: the error says which. Once
 * Redis is back, calls go through again with nothing to reset.
 */
export class CallGuard {
  readonly timeoutMs: number;
  readonly #what: string;

  /** `what` names the Redis in messages, e.g. "Redis store". */
  constructor(timeoutMs: number, what: string) {
    this.timeoutMs = timeoutMs;
    this.#what = what;
  }

  /** Runs `call` (which sends on `client`) once the client is connected, within the time allowed. */
  run<T>(client: RedisClient, call: () => Promise<T>): Promise<T> {
    if (client.status === undefined || !OFFLINE.has(client.status)) return this.#answer(call(), this.timeoutMs);
    const started = Date.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        forget();
        reject(this.#unavailable(`could not be reached (${client.status}) within ${this.timeoutMs} ms; the call was not sent`));
      }, this.timeoutMs);
      const forget = whenReady(client, () => {
        clearTimeout(timer);
        resolve();
      });
    }).then(() => this.#answer(call(), Math.max(1, this.timeoutMs - (Date.now() - started))));
  }

  /** Bounds a wait that is not a call (a subscription coming live); what it waits for goes on. */
  within<T>(promise: Promise<T>, doing: string): Promise<T> {
    return this.#bound(promise, this.timeoutMs, () => this.#unavailable(`did not confirm ${doing} within ${this.timeoutMs} ms`));
  }

  #answer<T>(sent: Promise<T>, ms: number): Promise<T> {
    return this.#bound(sent, ms, () => this.#unavailable(`did not answer within ${this.timeoutMs} ms; the call was sent and may still take effect`));
  }

  #bound<T>(promise: Promise<T>, ms: number, error: () => ConveyorError): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(error()), ms);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (reason) => {
          clearTimeout(timer);
          reject(reason);
        },
      );
    });
  }

  #unavailable(detail: string): ConveyorError {
    return new ConveyorError("STORE_UNAVAILABLE", `${this.#what} ${detail}`);
  }
}
