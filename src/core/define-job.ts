import type { BackoffFunction } from "./backoff.ts";
import { type JobSettings, JobSettingsSchema } from "./job-options.ts";
import { NameSchema } from "./names.ts";
import { parseArgument } from "./validation.ts";
import { isStandardSchema, type StandardSchemaV1 } from "./standard-schema.ts";

/**
 * A kind of job: its name, the schema its payload must match, and default settings.
 * Producers and workers share it, so the payload type is checked at both ends.
 */
export interface JobDefinition<S extends StandardSchemaV1 = StandardSchemaV1> {
  readonly name: string;
  readonly schema: S;
  readonly defaults: Readonly<JobSettings>;
  /** Set when `defaults.backoff` is a function: workers call it to space retries. */
  readonly backoffFunction: BackoffFunction | undefined;
}

/** Payload as a producer passes it (before schema transforms). */
export type PayloadInput<D> = D extends JobDefinition<infer S> ? StandardSchemaV1.InferInput<S> : never;
/** Payload as a handler receives it (after schema transforms). */
export type PayloadOutput<D> = D extends JobDefinition<infer S> ? StandardSchemaV1.InferOutput<S> : never;

/**
 * Defines a kind of job. `schema` is any Standard Schema with synchronous validation: valibot ≥1,
 * zod ≥3.24, arktype ≥2 and others.
 */
export function defineJob<S extends StandardSchemaV1>(
  name: string,
  schema: S,
  defaults: JobSettings = {},
): JobDefinition<S> {
  parseArgument(NameSchema, name, "job name");
  if (!isStandardSchema(schema)) {
    throw new TypeError(
      `defineJob("${name}") expects a Standard Schema as its second argument (valibot ≥1, zod ≥3.24, arktype ≥2; ` +
        `see standardschema.dev): the value given has no "~standard" property of version 1 (valibot 0.x schemas do not)`,
    );
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
