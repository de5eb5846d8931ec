// `npm start`: the demo server on Node (@hono/node-server + @hono/node-ws). PORT=0 picks a free port.
import process from "node:process";
import { nodeAdapter } from "../src/adapter/node.ts";
import { announce, demoServer } from "./server-app.ts";

const adapter = nodeAdapter();
const { app, token, broadcaster, conveyor } = await demoServer({ secret: process.env.CONVEYOR_SECRET, upgradeWebSocket: adapter.upgradeWebSocket });
const served = await adapter.serve(app, { port: Number(process.env.PORT ?? 3000) });
announce(served.port, token);
// SIGTERM / SIGINT: stop accepting, let running jobs finish (up to 10 s, then they go back to the
// queue), close the broadcaster, exit 0.
adapter.onShutdown(async () => {
  await served.close();
  await conveyor.close({ timeoutMs: 10_000 });
  await broadcaster.close();
  console.log("stopped");
});
