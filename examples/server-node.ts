// `npm start`: the demo server on Node (@hono/node-server). PORT=0 picks a free port.
import process from "node:process";
import { serve } from "@hono/node-server";
import { announce, demoServer } from "./server-app.ts";

const { app, token } = await demoServer({ secret: process.env.CONVEYOR_SECRET });
const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" }, (info) => announce(info.port, token));
process.on("SIGTERM", () => server.close());
