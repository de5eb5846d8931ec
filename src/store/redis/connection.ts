/**
 * The few commands the Redis store needs, which an ioredis client provides. Declared here so
 * the store neither imports ioredis's (Node-typed) declarations nor loads it unless asked to.
 */
export interface RedisClient {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  duplicate(): RedisClient;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  on(event: "error" | "ready", listener: (arg?: unknown) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** An unstorage `Storage` whose mount uses the redis driver (its client is reused). */
export interface RedisBackedStorage {
  getMount(key?: string): { driver: { name?: string; getInstance?: () => unknown } };
}

/** How to reach Redis: a client, a `redis://` URL, or an unstorage storage on the redis driver. */
export type RedisConnection = RedisClient | string | RedisBackedStorage;

function isClient(value: unknown): value is RedisClient {
  return typeof (value as RedisClient).call === "function" && typeof (value as RedisClient).duplicate === "function";
}

/** Resolves a connection to a client, and whether the store owns it (and so closes it). */
export async function connect(connection: RedisConnection): Promise<{ client: RedisClient; owned: boolean }> {
  if (typeof connection === "string") {
    // Loaded only when a URL is given: users passing a client never load it through us.
    const { default: Redis } = await import("ioredis") as unknown as {
      default: new (url: string, options: Record<string, unknown>) => RedisClient;
    };
    return { client: new Redis(connection, { maxRetriesPerRequest: null }), owned: true };
  }
  if (isClient(connection)) return { client: connection, owned: false };
  if (typeof (connection as RedisBackedStorage).getMount === "function") {
    const instance = (connection as RedisBackedStorage).getMount("").driver.getInstance?.();
    if (instance && isClient(instance)) return { client: instance, owned: false };
    throw new TypeError("RedisStore: the unstorage storage given is not mounted on the redis driver (no getInstance())");
  }
  throw new TypeError("RedisStore expects an ioredis client, a redis:// URL, or an unstorage storage on the redis driver");
}
