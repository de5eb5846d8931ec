/**
 * Ids in the order they were added, with O(1) add, delete, has and oldest. A `Set` keeps the
 * same order, but deleting from its front leaves holes that every later walk from the front
 * must skip; retention deletes the oldest on every completion, so that cost grew with traffic.
 */
export class OrderedIds {
  #ids: string[] = [];
  /** Every entry before `#head` is stale. */
  #head = 0;
  /** Id → its index in `#ids`; any other index holding the same id is stale. */
  #positions = new Map<string, number>();
  /** Stale entries at or after `#head`. */
  #stale = 0;

  get size(): number {
    return this.#positions.size;
  }

  has(id: string): boolean {
    return this.#positions.has(id);
  }

  add(id: string): void {
    if (this.#positions.has(id)) return;
    this.#positions.set(id, this.#ids.length);
    this.#ids.push(id);
  }

  delete(id: string): boolean {
    if (!this.#positions.delete(id)) return false;
    this.#stale++;
    // Rebuild once stale entries outnumber live ones: amortised O(1) per delete.
    if (this.#stale + this.#head > 1024 && this.#stale + this.#head > this.#positions.size) this.#rebuild();
    return true;
  }

  /** The id added longest ago that is still present. */
  oldest(): string | undefined {
    while (this.#head < this.#ids.length && this.#positions.get(this.#ids[this.#head]!) !== this.#head) {
      this.#head++;
      this.#stale--;
    }
    return this.#ids[this.#head];
  }

  /** Present ids, oldest first. */
  *[Symbol.iterator](): IterableIterator<string> {
    for (let i = this.#head; i < this.#ids.length; i++) {
      const id = this.#ids[i]!;
      if (this.#positions.get(id) === i) yield id;
    }
  }

  #rebuild(): void {
    const live = [...this];
    this.#ids = live;
    this.#positions = new Map(live.map((id, i) => [id, i]));
    this.#head = 0;
    this.#stale = 0;
  }
}
