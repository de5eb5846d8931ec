// The job the kit's process cases run, shared by the test and its child processes.
import * as v from "valibot";
import { defineJob } from "../mod.ts";

export const KIT_QUEUE = "kit-processes";
export const kitJob = defineJob("kit-job", v.object({ n: v.number() }));
/** Every completed job kept, so the cases can count them (retention keeps 1,000 by default). */
export const KEEP = { removeOnComplete: false } as const;
