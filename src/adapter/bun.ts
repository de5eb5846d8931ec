// Bun: Bun.serve with hono's Bun WebSocket helper.
import type { Hono } from "hono";
import { createBunWebSocket } from "hono/bun";
import type { UpgradeWebSocket } from "hono/ws";
import type { RuntimeAdapter, Served, ServeOptions } from "./contract.ts";

declare const Bun: {
  serve(options: { fetch: Hono["fetch"]; websocket: unknown; port: number; hostname: string }): { port: number; stop(closeActive?: boolean): Promise<void> | void };
};

export function bunAdapter(): RuntimeAdapter {
  const { upgradeWebSocket, websocket } = createBunWebSocket();
  return {
    runtime: "bun",
    upgradeWebSocket: upgradeWebSocket as UpgradeWebSocket,
    async serve(app: Hono, options: ServeOptions = {}): Promise<Served> {
      const server = Bun.serve({ fetch: app.fetch, websocket, port: options.port ?? 3000, hostname: options.hostname ?? "127.0.0.1" });
      return { port: server.port, close: async () => void await server.stop(true) };
    },
  };
}
