// Reads the lot state machine's ASL and fills in its ${Substitutions}: one implementation for the local stack and the tests.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { REPO_ROOT } from "../infra/template.ts";

export const LOT_ASL_PATH = resolve(REPO_ROOT, "statemachine/lot.asl.json");

export class SubstitutionError extends Error {
  override name = "SubstitutionError";
}

const REFERENCE = /\$\{([A-Za-z0-9_.:-]+)\}/g;

/** The ${Names} an ASL text refers to, in order of first use. */
export function substitutionNames(aslText: string): string[] {
  return [...new Set([...aslText.matchAll(REFERENCE)].map((m) => m[1] as string))];
}

/**
 * Replaces every ${Name} inside the string values of a parsed definition, as Step Functions
 * does, so a value can never break the JSON around it; a name without a value is an error.
 */
export function substitute(value: unknown, values: Record<string, string>): unknown {
  if (typeof value === "string") {
    return value.replace(REFERENCE, (_whole, name: string) => {
      const replacement = values[name];
      if (replacement === undefined) {
        throw new SubstitutionError(`'\${${name}}' has no DefinitionSubstitutions entry`);
      }
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, values));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substitute(item, values)]),
    );
  }
  return value;
}

export function loadDefinition(values: Record<string, string>, path = LOT_ASL_PATH): unknown {
  return substitute(JSON.parse(readFileSync(path, "utf8")), values);
}
