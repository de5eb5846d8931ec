/** A record that can sit in one `JobList` at a time, linked through its own fields. */
export interface Linked<T extends Linked<T>> {
  prev: T | null;
  next: T | null;
  list: JobList<T> | null;
}

/**
 * Jobs of one state in the order they entered it, linked through the records themselves:
 * add, remove and oldest are O(1) with no hashing, which matters at hundreds of thousands
 * of transitions a second.
 */
export class JobList<T extends Linked<T>> {
  #head: T | null = null;
  #tail: T | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get oldest(): T | null {
    return this.#head;
  }

  push(item: T): void {
    if (item.list) item.list.remove(item);
    item.list = this;
    item.prev = this.#tail;
    item.next = null;
    if (this.#tail) this.#tail.next = item;
    else this.#head = item;
    this.#tail = item;
    this.#size++;
  }

  remove(item: T): void {
    if (item.list !== this) return;
    if (item.prev) item.prev.next = item.next;
    else this.#head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.#tail = item.prev;
    item.prev = item.next = null;
    item.list = null;
    this.#size--;
  }

  /** Oldest first; safe against removing the current item while iterating. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let item = this.#head; item;) {
      const next = item.next;
      yield item;
      item = next;
    }
  }
}
