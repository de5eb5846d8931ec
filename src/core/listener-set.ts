import type { EventHandler, ListenOptions } from "./listener-types.ts";
/**
 * Which listeners an EventTarget holds for one type, kept the way EventTarget keeps them: the
 * same listener (and capture flag) added twice counts once, and `once`, `signal` and
 * `removeEventListener` take it away. Lets a target tell "nobody listens" from "someone does".
 */
export class ListenerSet {
  readonly #keys = new Map<EventHandler, Set<boolean>>();
  #onceFired: { listener: EventHandler; capture: boolean }[] = [];

  get size(): number {
    let n = 0;
    for (const captures of this.#keys.values()) n += captures.size;
    return n;
  }

  added(listener: EventHandler | null, options?: boolean | ListenOptions): void {
    if (!listener) return;
    const capture = typeof options === "boolean" ? options : options?.capture ?? false;
    const signal = typeof options === "object" ? options.signal : undefined;
    if (signal?.aborted) return;
    let captures = this.#keys.get(listener);
    if (captures?.has(capture)) return;
    if (!captures) this.#keys.set(listener, captures = new Set());
    captures.add(capture);
    if (typeof options === "object" && options.once) this.#onceFired.push({ listener, capture });
    signal?.addEventListener("abort", () => this.removed(listener, capture), { once: true });
  }

  removed(listener: EventHandler | null, options?: boolean | { capture?: boolean }): void {
    if (!listener) return;
    const capture = typeof options === "boolean" ? options : options?.capture ?? false;
    const captures = this.#keys.get(listener);
    captures?.delete(capture);
    if (captures?.size === 0) this.#keys.delete(listener);
  }

  /** After a dispatch: listeners added with `once` are gone. */
  dispatched(): void {
    const once = this.#onceFired;
    this.#onceFired = [];
    for (const { listener, capture } of once) this.removed(listener, capture);
  }
}
