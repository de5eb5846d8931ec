// Bun: Bun.serve with hono's Bun WebSocket helper.
import type { Hono } from "hono";
import { createBunWebSocket } from "hono/bun";
import type { UpgradeWebSocket } from "hono/ws";
import { recordClientAddress } from "./client-address.ts";
import type { RuntimeAdapter, Served, ServeOptions } from "./contract.ts";
import { shutdownOnSignals } from "./shutdown.ts";

interface BunServer {
  port: number;
  stop(closeActive?: boolean): Promise<void> | void;
  requestIP(request: Request): { address: string } | null;
}
declare const process: { once(signal: string, handler: () => void): void; exit(code: number): never };
declare const Bun: {
  serve(options: { fetch(request: Request, server: BunServer): Response | Promise<Response>; websocket: unknown; port: number; hostname: string }): BunServer;
};

export function bunAdapter(): RuntimeAdapter {
  const { upgradeWebSocket, websocket } = createBunWebSocket();
  return {
    runtime: "bun",
    upgradeWebSocket: upgradeWebSocket as UpgradeWebSocket,
    onShutdown: (stop, options) => shutdownOnSignals((signal, handler) => process.once(signal, handler), (code) => process.exit(code), stop, options),
    async serve(app: Hono, options: ServeOptions = {}): Promise<Served> {
      const fetch = (request: Request, server: BunServer) => {
        recordClientAddress(request, server.requestIP(request)?.address);
        return app.fetch(request, server);
      };
      const server = Bun.serve({ fetch, websocket, port: options.port ?? 3000, hostname: options.hostname ?? "127.0.0.1" });
      return { port: server.port, close: async () => void await server.stop(true) };
    },
  };
}
