import type { Clock, TimerHandle } from "../core/clock.ts";
import { ConveyorError } from "../core/errors.ts";
import { reportError } from "../util/report-error.ts";

interface OwnerRecord {
  readonly id: string;
  readonly heartbeatAt: number;
}

/** The part of an unstorage `Storage` this store uses (any driver: fs, memory, KV bindings …). */
export interface KeyValueStorage {
  getItem(key: string): Promise<unknown>;
  setItem(key: string, value: unknown): Promise<void>;
  setItems(items: { key: string; value: unknown }[]): Promise<void>;
  getItems(keys: string[]): Promise<{ key: string; value: unknown }[]>;
  removeItem(key: string): Promise<void>;
  getKeys(base?: string): Promise<string[]>;
}

/** A claim is honoured for three heartbeats: one or two late or failed renewals do not lose it. */
const LAPSE_HEARTBEATS = 3;

/**
 * One process's claim on the queues stored under a prefix, kept alive by a heartbeat.
 * unstorage has no compare-and-set, so the claim is a record every process reads before it
 * writes: a fresh record of another process refuses `acquire`, and a heartbeat that finds
 * another process's record marks the claim lost for good (`lost`), after which the store
 * refuses every change instead of two processes writing the same keys.
 *
 * A heartbeat whose write fails is retried, sooner than the next one was due, and the
 * heartbeat keeps going. While no renewal has been stored for as long as a claim lasts,
 * another process may have taken over: `ensure` then re-reads the record before letting a
 * change through.
 */
export class OwnerClaim {
  readonly #id = crypto.randomUUID();
  readonly #storage: KeyValueStorage;
  readonly #key: string;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #heartbeatMs: number;
  readonly #onLost: (error: ConveyorError) => void;
  /** When this process's record was last stored (its clock); -Infinity before the first. */
  #renewedAt = -Infinity;
  #renewing: Promise<void> | undefined;
  #timer: TimerHandle | undefined;
  #failures = 0;
  #stopped = false;
  #lost: ConveyorError | undefined;

  constructor(options: {
    storage: KeyValueStorage;
    key: string;
    prefix: string;
    clock: Clock;
    heartbeatMs: number;
    onLost: (error: ConveyorError) => void;
  }) {
    this.#storage = options.storage;
    this.#key = options.key;
    this.#prefix = options.prefix;
    this.#clock = options.clock;
    this.#heartbeatMs = options.heartbeatMs;
    this.#onLost = options.onLost;
  }

  /** Set once another process's claim has replaced this one. */
  get lost(): ConveyorError | undefined {
    return this.#lost;
  }

  /** Claims the queues, refusing while another process's heartbeat is fresh; starts the heartbeat. */
  async acquire(): Promise<void> {
    const owner = await this.#read();
    const now = this.#clock.now();
    if (owner && owner.id !== this.#id && now - owner.heartbeatAt < this.#lapseMs) {
      throw new ConveyorError(
        "UNSAFE_SETUP",
        `The queues stored under "${this.#prefix}" are in use by another process (last seen ${now - owner.heartbeatAt} ms ago). ` +
          "UnstorageStore keeps the queues of one process, because unstorage cannot claim jobs atomically; " +
          "to share queues between processes use RedisStore or DenoKvStore.",
      );
    }
    await this.#write(now);
    this.#schedule(this.#heartbeatMs);
  }

  /**
   * Resolves when this process may write: at once (undefined) while its claim is fresh; after
   * re-reading the record when it may have lapsed. Throws the `lost` error once it is lost.
   */
  ensure(): Promise<void> | undefined {
    if (this.#lost) throw this.#lost;
    if (this.#clock.now() - this.#renewedAt < this.#lapseMs) return undefined;
    return this.#renew();
  }

  /** Stops the heartbeat and removes the record, unless another process's has replaced it. */
  async release(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    await this.#renewing?.catch(() => {});
    if (this.#lost) return;
    const owner = await this.#read();
    if (!owner || owner.id === this.#id) await this.#storage.removeItem(this.#key);
  }

  get #lapseMs(): number {
    return LAPSE_HEARTBEATS * this.#heartbeatMs;
  }

  #renew(): Promise<void> {
    return this.#renewing ??= this.#check().finally(() => this.#renewing = undefined);
  }

  async #check(): Promise<void> {
    const owner = await this.#read();
    if (this.#lost) throw this.#lost;
    const now = this.#clock.now();
    if (owner && owner.id !== this.#id) throw this.#lose("another process's claim replaced this one's");
    // Gone while this process could not renew it: another one may have claimed, used and released it.
    if (!owner && now - this.#renewedAt >= this.#lapseMs) throw this.#lose("its claim lapsed and was removed");
    await this.#write(now);
  }

  #beat(): void {
    this.#timer = undefined;
    if (this.#stopped || this.#lost) return;
    this.#renew().then(
      () => {
        this.#failures = 0;
        this.#schedule(this.#heartbeatMs);
      },
      (error) => {
        if (this.#lost) return;
        this.#failures++;
        reportError(error, `UnstorageStore could not renew its claim on "${this.#prefix}" (${this.#failures} in a row); retrying`);
        // Several tries fit in the time a claim lasts, so one failed write does not lose it.
        this.#schedule(Math.max(1, Math.floor(this.#heartbeatMs / 4)));
      },
    );
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.#lost) return;
    this.#timer = this.#clock.setTimeout(() => this.#beat(), delayMs);
  }

  async #read(): Promise<OwnerRecord | null> {
    const value = await this.#storage.getItem(this.#key);
    return value && typeof value === "object" && typeof (value as OwnerRecord).id === "string" ? value as OwnerRecord : null;
  }

  async #write(now: number): Promise<void> {
    await this.#storage.setItem(this.#key, { id: this.#id, heartbeatAt: now } satisfies OwnerRecord);
    this.#renewedAt = now;
  }

  #lose(reason: string): ConveyorError {
    this.#lost = new ConveyorError(
      "UNSAFE_SETUP",
      `This process no longer owns the queues stored under "${this.#prefix}": ${reason}. ` +
        "It accepts no more changes, so two processes never write the same queues; close it and open the store again.",
    );
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#onLost(this.#lost);
    return this.#lost;
  }
}
