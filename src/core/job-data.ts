import * as v from "valibot";
import { dataDepth, MAX_DATA_DEPTH } from "./clone.ts";
import { ConveyorError } from "./errors.ts";
import { describeIssues } from "./validation.ts";

export { MAX_DATA_DEPTH };

const RULE = `at most ${MAX_DATA_DEPTH} levels of objects and arrays nested in each other, and no cycles`;

/**
 * Job data (a payload, a result, a progress value) that every store can keep and give back:
 * nested at most `MAX_DATA_DEPTH` levels, not cyclic. Checked before anything is stored, so
 * a value no store could serve is refused instead of stored and then unreadable. The same
 * schema checks `add` and the HTTP app's request bodies.
 */
export const JobDataSchema = v.pipe(v.unknown(), v.check((value) => dataDepth(value) <= MAX_DATA_DEPTH, RULE));

/** The VALIDATION_FAILED error for data no store can keep, or null when it is fine. */
export function jobDataError(value: unknown, what: string): ConveyorError | null {
  const result = v.safeParse(JobDataSchema, value);
  if (result.success) return null;
  return new ConveyorError("VALIDATION_FAILED", `Invalid ${what}: expected ${RULE} (MAX_DATA_DEPTH)`, {
    issues: describeIssues(result.issues),
  });
}

/** Throws VALIDATION_FAILED for data no store can keep (see `JobDataSchema`). */
export function checkJobData(value: unknown, what: string): void {
  const error = jobDataError(value, what);
  if (error) throw error;
}
