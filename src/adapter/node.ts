// Node: serving with @hono/node-server, WebSockets with @hono/node-ws (the `ws` package).
import { serve as serveNode } from "@hono/node-server";
import { createNodeWebSocket } from "@hono/node-ws";
import type { Hono } from "hono";
import { recordClientAddress } from "./client-address.ts";
import type { RuntimeAdapter, Served, ServeOptions } from "./contract.ts";
import { shutdownOnSignals } from "./shutdown.ts";
import process from "node:process";

/** What @hono/node-server passes as the app's env: the Node request, whose socket knows the peer. */
interface NodeBindings {
  incoming: { socket: { remoteAddress?: string } };
}

/** Largest WebSocket frame `ws` accepts before closing the socket (1009); the broadcaster's own limit is lower. */
const MAX_FRAME_BYTES = 1024 * 1024;

export function nodeAdapter(): RuntimeAdapter {
  // node-ws routes upgrade requests through the app it is given; that app exists only at serve().
  let served: Hono | undefined;
  const ws = createNodeWebSocket({ app: { request: (...args: Parameters<Hono["request"]>) => served!.request(...args) } as unknown as Hono });
  (ws.wss.options as { maxPayload?: number }).maxPayload = MAX_FRAME_BYTES;
  return {
    runtime: "node",
    upgradeWebSocket: ws.upgradeWebSocket,
    onShutdown: (stop, options) => shutdownOnSignals((signal, handler) => process.once(signal, handler), (code) => process.exit(code), stop, options),
    serve(app: Hono, options: ServeOptions = {}): Promise<Served> {
      served = app;
      return new Promise((resolve) => {
        const fetch = (request: Request, env: NodeBindings) => {
          recordClientAddress(request, env.incoming.socket.remoteAddress);
          return app.fetch(request, env);
        };
        const server = serveNode({ fetch, port: options.port ?? 3000, hostname: options.hostname ?? "127.0.0.1" }, (info) => {
          resolve({
            port: info.port,
            close: () =>
              new Promise<void>((done) => {
                for (const client of ws.wss.clients) client.terminate();
                server.close(() => done());
                (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
              }),
          });
        });
        ws.injectWebSocket(server as Parameters<typeof ws.injectWebSocket>[0]);
      });
    },
  };
}
