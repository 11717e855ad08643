// One way to put a zod failure into words: `path: message` per issue, on one line.
import type { ZodError } from "zod";

export interface IssueWordsOptions {
  /** At most this many issues are named (the rest are counted); default 5. */
  limit?: number;
  /** How a path is introduced, e.g. as the flag or attribute the user typed; default the path itself. */
  label?: (path: string) => string;
  /** The input that was parsed: when given, each issue shows the value it is about, `(got 1e8)`. */
  input?: unknown;
}

/** What a root-level issue's path reads as. */
export const ROOT_PATH = "(root)";

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/**
 * Each issue as `path: message`, the path dotted (`images.0.sha256`). z.prettifyError says the
 * same over several lines with symbols meant for a terminal; our messages travel as one line
 * (Step Functions causes, quarantine notes, HTTP bodies, stderr).
 */
export function issueWords(error: ZodError, options: IssueWordsOptions = {}): string[] {
  const { limit = 5, label = (path: string) => path } = options;
  const words = error.issues.slice(0, limit).map((issue) => {
    const path = issue.path.length ? issue.path.map(String).join(".") : ROOT_PATH;
    const got =
      "input" in options && issue.path.length ? valueAt(options.input, issue.path) : undefined;
    const shown = got === undefined ? "" : ` (got ${JSON.stringify(got)})`;
    return `${label(path)}: ${issue.message}${shown}`;
  });
  const more = error.issues.length - words.length;
  if (more > 0) words.push(`and ${more} more`);
  return words;
}

/** The issues of `error` on one line, separated by "; ". */
export function describeZodError(error: ZodError, options: IssueWordsOptions = {}): string {
  return issueWords(error, options).join("; ");
}
