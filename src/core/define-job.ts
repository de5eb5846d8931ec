import * as v from "valibot";
import type { BackoffFunction } from "./backoff.ts";
import { type JobSettings, JobSettingsSchema } from "./job-options.ts";
import { NameSchema } from "./names.ts";
import { parseArgument } from "./validation.ts";

/**
 * A kind of job: its name, the schema its payload must match, and default settings.
 * Producers and workers share it, so the payload type is checked at both ends.
 */
export interface JobDefinition<S extends v.GenericSchema = v.GenericSchema> {
  readonly name: string;
  readonly schema: S;
  readonly defaults: Readonly<JobSettings>;
  /** Set when `defaults.backoff` is a function: workers call it to space retries. */
  readonly backoffFunction: BackoffFunction | undefined;
}

/** Payload as a producer passes it (before schema transforms). */
export type PayloadInput<D> = D extends JobDefinition<infer S> ? v.InferInput<S> : never;
/** Payload as a handler receives it (after schema transforms). */
export type PayloadOutput<D> = D extends JobDefinition<infer S> ? v.InferOutput<S> : never;

export function defineJob<S extends v.GenericSchema>(
  name: string,
  schema: S,
  defaults: JobSettings = {},
): JobDefinition<S> {
  parseArgument(NameSchema, name, "job name");
  if (!schema || typeof schema !== "object" || !("~standard" in schema)) {
    throw new TypeError(`defineJob("${name}") expects a valibot schema as its second argument`);
  }
  const settings = parseArgument(JobSettingsSchema, defaults, `defaults of job "${name}"`);
  return Object.freeze({
    name,
    schema,
    defaults: Object.freeze({ ...settings }),
    backoffFunction: typeof settings.backoff === "function" ? settings.backoff : undefined,
  }) as JobDefinition<S>;
}

export function isJobDefinition(value: unknown): value is JobDefinition {
  return typeof value === "object" && value !== null && "schema" in value && "name" in value &&
    "defaults" in value;
}
