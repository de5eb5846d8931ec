// The demo server on Deno: `deno run -A examples/server-deno.ts`. PORT=0 picks a free port.
import process from "node:process";
import { announce, demoServer } from "./server-app.ts";

declare const Deno: {
  serve(options: { port: number; hostname: string; onListen(addr: { port: number }): void }, handler: (request: Request) => Response | Promise<Response>): unknown;
};

const { app, token } = await demoServer({ secret: process.env.CONVEYOR_SECRET });
Deno.serve({ port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1", onListen: ({ port }) => announce(port, token) }, app.fetch);
