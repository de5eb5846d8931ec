import * as v from "valibot";
import { defineJob } from "../../mod.ts";

/** Job kinds shared by the behavioural suites. */
export const echo = defineJob("echo", v.object({ n: v.number() }));
export const email = defineJob("email", v.object({ to: v.pipe(v.string(), v.email()), secret: v.optional(v.string()) }));
export const flaky = defineJob("flaky", v.object({ failTimes: v.number() }), {
  attempts: 3,
  backoff: { type: "fixed", delayMs: 1_000 },
});
