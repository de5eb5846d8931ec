// The demo server on Deno: `deno run -A examples/server-deno.ts`. PORT=0 picks a free port.
import process from "node:process";
import { denoAdapter } from "../src/adapter/deno.ts";
import { announce, demoServer } from "./server-app.ts";

const adapter = denoAdapter();
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
