/**
 * Callers waiting for a condition (a worker idle, a worker quiet): each `wait` resolves the
 * first time `notify` finds the condition true, checked when the state it depends on changed.
 */
export class Waiters {
  readonly #holds: () => boolean;
  #waiting: (() => void)[] = [];

  constructor(holds: () => boolean) {
    this.#holds = holds;
  }

  /** Resolves at once if the condition holds, else at the first `notify` that finds it true. */
  async wait(): Promise<void> {
    while (!this.#holds()) await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  notify(): void {
    if (this.#waiting.length === 0 || !this.#holds()) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }
}
