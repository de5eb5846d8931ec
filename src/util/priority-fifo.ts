import { Deque } from "./deque.ts";

/**
 * Items by priority (lower first), first in first out within one priority. One FIFO per
 * priority in use: push and shift are O(1) however many items wait, since real queues use a
 * handful of distinct priorities.
 */
export class PriorityFifo<T> {
  readonly #buckets = new Map<number, Deque<T>>();
  /** Priorities that have a bucket, ascending. */
  #priorities: number[] = [];

  get size(): number {
    let size = 0;
    for (const bucket of this.#buckets.values()) size += bucket.size;
    return size;
  }

  push(priority: number, item: T): void {
    let bucket = this.#buckets.get(priority);
    if (!bucket) {
      this.#buckets.set(priority, bucket = new Deque());
      const at = this.#priorities.findIndex((p) => p > priority);
      if (at === -1) this.#priorities.push(priority);
      else this.#priorities.splice(at, 0, priority);
    }
    bucket.push(item);
  }

  shift(): T | undefined {
    while (this.#priorities.length > 0) {
      const priority = this.#priorities[0]!;
      const bucket = this.#buckets.get(priority)!;
      const item = bucket.shift();
      if (item !== undefined) return item;
      this.#buckets.delete(priority);
      this.#priorities.shift();
    }
    return undefined;
  }

  retain(keep: (item: T) => boolean): void {
    for (const bucket of this.#buckets.values()) bucket.retain(keep);
  }

  /** Items in the order `shift` would return them. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const priority of this.#priorities) yield* this.#buckets.get(priority)!;
  }
}
