// Reads a module's configuration from the environment once, validated, with errors naming each bad variable.
import { z } from "zod";
import { describeZodError } from "./zod-issues.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses `env` with `schema`; a missing or malformed variable fails loudly at start, by name. */
export function readConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = describeZodError(parsed.error, { limit: Number.POSITIVE_INFINITY });
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

/**
 * An optional environment variable holding a whole number in [min, max]: unset or blank reads
 * as undefined (the caller's default); anything else must be digits in range, or readConfig
 * fails naming the variable.
 */
export function wholeNumberVariable(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const range = max === Number.MAX_SAFE_INTEGER ? `from ${min}` : `from ${min} to ${max}`;
  return z.preprocess(
    (value) => (value === undefined || String(value).trim() === "" ? undefined : value),
    z
      .string()
      .regex(/^\d+$/, `a whole number ${range}`)
      .transform(Number)
      .pipe(z.number().int().min(min).max(max))
      .optional(),
  );
}
