import { reportError } from "../../util/report-error.ts";

/**
 * The few commands the Redis store needs, which an ioredis client provides. Declared here so
 * the store neither imports ioredis's (Node-typed) declarations nor loads it unless asked to.
 */
export interface RedisClient {
  /** ioredis's connection state ("ready" when commands go straight out); optional for other clients. */
  readonly status?: string;
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

/** An ioredis `Cluster` (it says so in `isCluster`): its events take another path (lua/common.ts). */
export function isClusterClient(connection: RedisConnection): boolean {
  return typeof connection === "object" && (connection as { isCluster?: unknown }).isCluster === true;
}

function isClient(value: unknown): value is RedisClient {
  return typeof (value as RedisClient).call === "function" && typeof (value as RedisClient).duplicate === "function";
}

/**
 * ioredis emits "error" on every failed reconnect and prints them all when nobody listens: say
 * it once per outage instead. Calls wait for the reconnect (and workers retry), so nothing is lost.
 */
export function reportOutages(client: RedisClient, url: string): void {
  let down = false;
  client.on("ready", () => down = false);
  client.on("error", (error) => {
    if (down) return;
    down = true;
    reportError(error, `Redis at ${redactUrl(url)} is unreachable; reconnecting`);
  });
}

/** A URL fit for logs: any password replaced. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/** Closes a client politely, or at once when the server does not answer (it may be gone). */
export async function closeClient(client: RedisClient, graceMs = 1_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const quit = client.quit().then(() => true, () => false);
  const timedOut = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), graceMs));
  const polite = await Promise.race([quit, timedOut]);
  clearTimeout(timer);
  if (!polite) client.disconnect();
}

type IoredisClass = new (url: string, options: Record<string, unknown>) => RedisClient;

/**
 * Loaded only when a URL is given: users passing a client never load it through us. The name is
 * a variable so bundlers (esbuild, wrangler) leave the import alone instead of failing to
 * resolve a package the app does not use. `npm:` is Deno's way when no import map names it
 * (the package from JSR).
 */
async function loadIoredis(): Promise<IoredisClass> {
  const name = "ioredis";
  try {
    return ((await import(name).catch(() => import(`npm:${name}`))) as { default: IoredisClass }).default;
  } catch (error) {
    throw new TypeError(
      'RedisStore with a redis:// URL needs the "ioredis" package: npm install ioredis (or pass an ioredis client you made)',
      { cause: error },
    );
  }
}

/** Resolves a connection to a client, and whether the store owns it (and so closes it). */
export async function connect(connection: RedisConnection): Promise<{ client: RedisClient; owned: boolean }> {
  if (typeof connection === "string") {
    const Redis = await loadIoredis();
    const client = new Redis(connection, { maxRetriesPerRequest: null });
    reportOutages(client, connection);
    return { client, owned: true };
  }
  if (isClient(connection)) return { client: connection, owned: false };
  if (typeof (connection as RedisBackedStorage).getMount === "function") {
    const instance = (connection as RedisBackedStorage).getMount("").driver.getInstance?.();
    if (instance && isClient(instance)) return { client: instance, owned: false };
    throw new TypeError("RedisStore: the unstorage storage given is not mounted on the redis driver (no getInstance())");
  }
  throw new TypeError("RedisStore expects an ioredis client, a redis:// URL, or an unstorage storage on the redis driver");
}
