// The one command-line convention: --help prints usage to stdout (exit 0), usage errors are one stderr line (exit 2).
import { type ParseArgsConfig, parseArgs } from "node:util";

/** The command line itself is wrong (unknown flag, missing argument, bad value): exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** True when the arguments ask for help; checked before anything else is parsed or started. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/** node:util parseArgs, strict, with its refusals turned into UsageError. */
export function parseCommandLine<T extends Options>(
  argv: string[],
  options: T,
  { allowPositionals = false }: { allowPositionals?: boolean } = {},
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (cause) {
    throw new UsageError((cause as Error).message.split("\n")[0] ?? "bad arguments", { cause });
  }
}

/** The one stderr line a usage error gets: what was wrong, and where the usage is. */
export function usageErrorLine(command: string, message: string): string {
  const first = message.split("\n")[0]?.trim() || "bad arguments";
  return `${command}: ${first} (see '${command} --help')`;
}

/**
 * For scripts with no dispatcher of their own (the benchmarks): answers --help with `usage`
 * (stdout, exit 0) and a usage error with its one line (stderr, exit 2); else the parsed values.
 */
export function commandLineOrExit<T extends Options>(
  command: string,
  usage: string,
  argv: string[],
  options: T,
  settings: { allowPositionals?: boolean } = {},
) {
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage.trimEnd()}\n`);
    process.exit(0);
  }
  try {
    return parseCommandLine(argv, options, settings);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${usageErrorLine(command, error.message)}\n`);
    process.exit(2);
  }
}
