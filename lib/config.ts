// Reads a module's configuration from the environment once, validated, with errors naming each bad variable.
import type { z } from "zod";
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
