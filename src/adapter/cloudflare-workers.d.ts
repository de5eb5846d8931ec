// The few declarations of workerd's built-in module the Durable Object adapter uses; a project
// with @cloudflare/workers-types gets the full ones. Only src/adapter/cloudflare-store.ts imports it.
declare module "cloudflare:workers" {
  export interface DurableObjectStorage {
    readonly sql: { exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] } };
    transactionSync<T>(body: () => T): T;
    setAlarm(scheduledTime: number): Promise<void>;
    deleteAlarm(): Promise<void>;
  }
  export interface DurableObjectState {
    readonly storage: DurableObjectStorage;
    blockConcurrencyWhile<T>(body: () => Promise<T>): Promise<T>;
    waitUntil(promise: Promise<unknown>): void;
    abort(reason?: string): void;
  }
  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: DurableObjectState;
    protected readonly env: Env;
    constructor(ctx: DurableObjectState, env: Env);
  }
  export abstract class WorkerEntrypoint<Env = unknown> {
    protected readonly ctx: { waitUntil(promise: Promise<unknown>): void };
    protected readonly env: Env;
    constructor(ctx: { waitUntil(promise: Promise<unknown>): void }, env: Env);
  }
}
