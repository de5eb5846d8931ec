import * as v from "valibot";

/** Queue and job names: printable, no spaces, so they are safe in keys, URLs and logs. */
export const NameSchema = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(200),
  v.regex(/^[^\s\p{Cc}]+$/u, "a name without spaces or control characters"),
);
