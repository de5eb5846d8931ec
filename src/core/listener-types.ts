/**
 * EventTarget's listener and option shapes, declared here so the published types need no DOM
 * lib: a Node-only project (`types: ["node"]`, no "DOM") does not have `AddEventListenerOptions`.
 */
export type EventHandler = ((event: Event) => void) | { handleEvent(event: Event): void };

export interface ListenOptions {
  capture?: boolean;
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}
