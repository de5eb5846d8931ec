// `npm start`: a few hundred jobs of several kinds on the embedded memory backend, shown live.
// Delayed and prioritised jobs, a webhook that fails twice and then succeeds, an export that
// times out, and poison messages that end in the dead-letter store.
import { createConveyor } from "../mod.ts";
import {
  chargeCard,
  flakyWebhook,
  handlers,
  nightlyReport,
  poisonMessage,
  resizeImage,
  sendEmail,
  slowExport,
} from "./demo-jobs.ts";
import { TerminalView } from "./terminal-view.ts";

const conveyor = createConveyor();
const queue = conveyor.queue("demo");
const view = new TerminalView(queue, process.stdout);

conveyor.worker(queue, { concurrency: 16 })
  .handle(resizeImage, handlers.resize)
  .handle(sendEmail, handlers.email)
  .handle(chargeCard, handlers.charge)
  .handle(nightlyReport, handlers.report)
  .handle(flakyWebhook, handlers.webhook)
  .handle(slowExport, handlers.export)
  .handle(poisonMessage, handlers.poison);

await queue.addBulk([
  ...Array.from({ length: 240 }, (_, i) => ({ job: resizeImage, payload: { file: `photo-${i}.jpg`, widthPx: 320 + i } })),
  ...Array.from({ length: 40 }, (_, i) => ({ job: sendEmail, payload: { to: `user${i}@example.com` } })),
  ...Array.from({ length: 12 }, (_, i) => ({ job: chargeCard, payload: { orderId: `order-${i}`, cents: 1_999 + i } })),
  ...Array.from({ length: 6 }, (_, i) => ({
    job: nightlyReport,
    payload: { day: `2026-11-${String(i + 1).padStart(2, "0")}` },
    options: { delayMs: 1_500 + i * 400 },
  })),
  ...Array.from({ length: 3 }, (_, i) => ({ job: flakyWebhook, payload: { url: `https://hooks.example.com/${i}` } })),
  { job: slowExport, payload: { table: "orders" } },
  { job: poisonMessage, payload: { raw: "{\"truncated\":" } },
  { job: poisonMessage, payload: { raw: "<html>" } },
]);

const started = Date.now();
const settled = async () => {
  const c = await queue.counts();
  return c.waiting + c.delayed + c.active === 0;
};
while (!(await settled())) {
  await view.render(Date.now() - started);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
await view.render(Date.now() - started);

const counts = await queue.counts();
console.log(`\nAll settled in ${((Date.now() - started) / 1000).toFixed(1)} s: ${counts.completed} completed, ${counts.dead} in the dead-letter store.`);
console.log("Dead-letter store:");
for (const job of await queue.list("dead")) {
  console.log(`  #${job.id} ${job.name}: ${job.dead?.reason} after ${job.dead?.attempts} attempt(s) — ${job.lastError?.code ?? job.lastError?.name}: ${job.lastError?.message}`);
}
await conveyor.close();
