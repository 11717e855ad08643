// Reads the lot state machine's ASL and fills in its ${Substitutions}, for the local runner and the tests.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { REPO_ROOT } from "../infra/template.ts";

export const LOT_ASL_PATH = resolve(REPO_ROOT, "statemachine/lot.asl.json");

export class SubstitutionError extends Error {
  override name = "SubstitutionError";
}

/** The ${Names} an ASL text refers to, in order of first use. */
export function substitutionNames(aslText: string): string[] {
  return [...new Set([...aslText.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string))];
}

/** Replaces every ${Name}; a name without a value is an error, never left for the runner to trip on. */
export function substitute(aslText: string, values: Record<string, string>): string {
  return aslText.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new SubstitutionError(`no value for \${${name}} in the ASL`);
    return value;
  });
}

export function loadDefinition(values: Record<string, string>, path = LOT_ASL_PATH): unknown {
  return JSON.parse(substitute(readFileSync(path, "utf8"), values));
}
