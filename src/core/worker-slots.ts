/** What the budget reads of each queue's pump. */
export interface SlotTaker {
  /** Slots it holds: handlers running (less those whose outcome is on its way) plus claims under way. */
  readonly held: number;
  /** Of those, slots promised to claims under way. */
  readonly reserved: number;
  /** Its queue may have due jobs, and the worker takes jobs from it now. */
  readonly eligible: boolean;
}

/**
 * One concurrency limit shared by the queues of a worker, in their order. Strict: every free
 * slot goes to the first eligible queue. Weighted: to the eligible queue furthest behind its
 * share (start-time fair queuing: a queue's tag grows by 1/weight per job started; a queue back
 * from idle joins at the current virtual time instead of claiming back the slots it missed, and
 * an empty queue is not eligible, so it never holds a slot back).
 */
export class SlotBudget {
  readonly #concurrency: number;
  readonly #takers: readonly SlotTaker[];
  readonly #weights: readonly number[] | null;
  /** Each queue's tag: its virtual time after the jobs it has started. */
  readonly #tags: number[];
  /** The largest start tag of a job started so far. */
  #virtual = 0;

  /** `takers` may be filled in after construction (pumps are made with the budget in hand). */
  constructor(concurrency: number, takers: readonly SlotTaker[], weights: readonly number[] | null) {
    this.#concurrency = concurrency;
    this.#takers = takers;
    this.#weights = weights;
    this.#tags = weights ? weights.map(() => 0) : [];
  }

  /** Slots `taker` may claim now (it sends a claim for every one it is given). */
  free(taker: SlotTaker): number {
    const takers = this.#takers;
    if (takers.length === 1) return taker.eligible ? this.#concurrency - taker.held : 0; // one queue: every slot
    let held = 0;
    for (let i = 0; i < takers.length; i++) held += takers[i]!.held;
    const free = this.#concurrency - held;
    if (free <= 0) return 0;
    if (this.#weights === null) {
      for (let i = 0; i < takers.length; i++) if (takers[i]!.eligible) return takers[i] === taker ? free : 0;
      return 0;
    }
    return this.#weightedShare(taker, free);
  }

  /** A job of `taker`'s queue started: its tag moves on by one job's worth. */
  started(taker: SlotTaker): void {
    if (this.#weights === null) return;
    const i = this.#takers.indexOf(taker);
    const start = Math.max(this.#tags[i]!, this.#virtual);
    this.#tags[i] = start + 1 / this.#weights[i]!;
    this.#virtual = start;
  }

  /** Hands out the free slots one at a time to the lowest tag (claims under way counted), and counts those of `taker`. */
  #weightedShare(taker: SlotTaker, free: number): number {
    const takers = this.#takers;
    const weights = this.#weights!;
    const me = takers.indexOf(taker);
    if (!taker.eligible) return 0;
    const tags = takers.map((t, i) => t.eligible ? Math.max(this.#tags[i]!, this.#virtual) + t.reserved / weights[i]! : Infinity);
    if (tags.filter((tag) => tag !== Infinity).length === 1) return free;
    let mine = 0;
    for (let slot = 0; slot < free; slot++) {
      let lowest = 0;
      // A tie goes to the queue listed first (the epsilon absorbs 1/3 + 1/3 + 1/3 < 1).
      for (let i = 1; i < tags.length; i++) if (tags[i]! < tags[lowest]! - 1e-9) lowest = i;
      if (lowest === me) mine++;
      tags[lowest]! += 1 / weights[lowest]!;
    }
    return mine;
  }
}
