// The demo server on Bun: `bun examples/server-bun.ts`. PORT=0 picks a free port.
import process from "node:process";
import { announce, demoServer } from "./server-app.ts";

declare const Bun: { serve(options: { fetch: (request: Request) => Response | Promise<Response>; port: number; hostname: string }): { port: number } };

const { app, token } = await demoServer({ secret: process.env.CONVEYOR_SECRET });
const server = Bun.serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" });
announce(server.port, token);
