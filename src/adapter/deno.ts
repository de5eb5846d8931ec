// Deno: Deno.serve with hono's Deno WebSocket helper (Deno.upgradeWebSocket).
import type { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { UpgradeWebSocket } from "hono/ws";
import { recordClientAddress } from "./client-address.ts";
import type { RuntimeAdapter, Served, ServeOptions } from "./contract.ts";
import { shutdownOnSignals } from "./shutdown.ts";

interface ServeInfo {
  remoteAddr: { hostname?: string };
}
declare const Deno: {
  addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  exit(code: number): never;
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: (request: Request, info: ServeInfo) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
};

export function denoAdapter(): RuntimeAdapter {
  return {
    runtime: "deno",
    upgradeWebSocket: upgradeWebSocket as UpgradeWebSocket,
    onShutdown: (stop, options) => shutdownOnSignals((signal, handler) => Deno.addSignalListener(signal, handler), (code) => Deno.exit(code), stop, options),
    serve(app: Hono, options: ServeOptions = {}): Promise<Served> {
      return new Promise((resolve) => {
        const server = Deno.serve({
          port: options.port ?? 3000,
          hostname: options.hostname ?? "127.0.0.1",
          onListen: ({ port }) => resolve({ port, close: () => server.shutdown() }),
        }, (request, info) => {
          recordClientAddress(request, info.remoteAddr.hostname);
          return app.fetch(request, info);
        });
      });
    },
  };
}
