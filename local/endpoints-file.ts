// <dataDir>/endpoints.json: how other processes (invoke, lots, reprocess, report, scripts) reach a running local stack; also an env-vars file.

import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { isProcessAlive } from "../lib/process.ts";
import { LocalStackError } from "./errors.ts";

export const ENDPOINTS_FILE = "endpoints.json";

/**
 * `Parameters` is the shape of an env-vars file (`sam local invoke --env-vars`, `waferflow invoke
 * --env-vars`): the variables every function needs to reach this stack (endpoints, credentials,
 * region). The rest says who wrote it and what the stack's resources are called.
 */
export const EndpointsFileSchema = z.object({
  Parameters: z.record(z.string(), z.string()),
  pid: z.number().int().positive(),
  dataDir: z.string(),
  endpoints: z.record(z.string(), z.string()),
  names: z.record(z.string(), z.string()),
  /** The operator console `waferflow local` serves, when it serves one. */
  consoleUrl: z.string().optional(),
});
export type EndpointsFile = z.infer<typeof EndpointsFileSchema>;

/** The variables that point a client at the stack: everything in its env but the functions' own settings. */
export function stackConnection(
  env: Record<string, string>,
  functionVariables: Iterable<string>,
): Record<string, string> {
  const own = new Set(functionVariables);
  return Object.fromEntries(Object.entries(env).filter(([key]) => !own.has(key)));
}

/** Writes the file for a stack this process runs; the returned function removes it again. */
export function writeEndpointsFile(content: EndpointsFile): () => void {
  const path = join(content.dataDir, ENDPOINTS_FILE);
  writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  return () => {
    // Only ours: a later stack on the same dir may have written its own.
    try {
      const current = JSON.parse(readFileSync(path, "utf8")) as { pid?: number };
      if (current.pid === content.pid) rmSync(path, { force: true });
    } catch {
      // already gone
    }
  };
}

/** The endpoints of the stack that holds `dataDir` right now, or undefined when none does. */
export function readRunningStack(dataDir: string): EndpointsFile | undefined {
  const path = join(dataDir, ENDPOINTS_FILE);
  if (!existsSync(path)) return undefined;
  let parsed: EndpointsFile;
  try {
    parsed = EndpointsFileSchema.parse(JSON.parse(readFileSync(path, "utf8")));
  } catch (cause) {
    throw new LocalStackError(`${path} is not an endpoints file of waferflow local`, { cause });
  }
  // A file left by a stack that was killed says nothing about now.
  return isProcessAlive(parsed.pid) ? parsed : undefined;
}
