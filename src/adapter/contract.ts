// What each runtime adapter provides: serving a Hono app, and upgrading a request to a WebSocket.
import type { Hono } from "hono";
import type { UpgradeWebSocket } from "hono/ws";
import type { ShutdownOptions } from "./shutdown.ts";

export interface ServeOptions {
  /** 0 picks a free port. @default 3000 */
  port?: number;
  /** @default "127.0.0.1" */
  hostname?: string;
}

export interface Served {
  readonly port: number;
  close(): Promise<void>;
}

export interface RuntimeAdapter {
  readonly runtime: "node" | "bun" | "deno" | "cloudflare";
  /** For `createBroadcastApp(…, { upgradeWebSocket })`. */
  readonly upgradeWebSocket: UpgradeWebSocket;
  /** Serves `app`, WebSockets included; resolves once it listens. */
  serve(app: Hono, options?: ServeOptions): Promise<Served>;
  /**
   * On SIGTERM or SIGINT runs `stop` (close the server, then the conveyor), then exits 0; 1 when
   * it fails or overruns `deadlineMs`. On Workers, which have no process, it does nothing.
   */
  onShutdown(stop: () => Promise<void>, options?: ShutdownOptions): void;
}
