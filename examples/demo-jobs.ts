// The job kinds the demo runs: one of each behaviour a queue has to get right.
import * as v from "valibot";
import { defineJob, type JobContext, UnrecoverableError } from "../mod.ts";

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

/** Works in steps, reporting progress after each. */
async function work(ctx: JobContext, totalMs: number, steps = 5): Promise<void> {
  for (let step = 1; step <= steps; step++) {
    await sleep(totalMs / steps, ctx.signal);
    await ctx.progress(Math.round((step / steps) * 100));
  }
}

export const resizeImage = defineJob("resize-image", v.object({ file: v.string(), widthPx: v.number() }));
export const sendEmail = defineJob("send-email", v.object({ to: v.pipe(v.string(), v.email()) }), { priority: "high" });
export const chargeCard = defineJob("charge-card", v.object({ orderId: v.string(), cents: v.number() }), {
  priority: "critical",
});
export const nightlyReport = defineJob("nightly-report", v.object({ day: v.string() }), { priority: "low" });
export const flakyWebhook = defineJob("flaky-webhook", v.object({ url: v.string() }), {
  attempts: 4,
  backoff: { type: "exponential", delayMs: 200, maxDelayMs: 1_000 },
});
export const slowExport = defineJob("slow-export", v.object({ table: v.string() }), { timeoutMs: 600, attempts: 2 });
export const poisonMessage = defineJob("poison-message", v.object({ raw: v.string() }), {
  attempts: 3,
  backoff: { type: "fixed", delayMs: 250 },
});

export const handlers = {
  resize: (payload: { widthPx: number }, ctx: JobContext) => work(ctx, 80 + (payload.widthPx % 7) * 40),
  email: (_: unknown, ctx: JobContext) => work(ctx, 60, 2),
  charge: (_: unknown, ctx: JobContext) => work(ctx, 120, 3),
  report: (_: unknown, ctx: JobContext) => work(ctx, 300),
  webhook: (_: unknown, ctx: JobContext) => {
    if (ctx.attempt < 3) throw new Error(`webhook answered 503 on attempt ${ctx.attempt}`);
    return work(ctx, 50, 1);
  },
  // Takes far longer than its 600 ms timeout: the signal aborts the sleep.
  export: (_: unknown, ctx: JobContext) => work(ctx, 5_000),
  poison: (payload: { raw: string }) => {
    if (payload.raw.startsWith("{")) throw new Error("cannot parse message: unexpected end of JSON");
    throw new UnrecoverableError("message is not JSON at all");
  },
};
