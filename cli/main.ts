// The `waferflow` command line: one entry, one sub-command per job, each loaded only when used.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const USAGE = `waferflow - wafer defect detection pipeline

Usage:
  waferflow local [--data-dir .waferflow] [--inbox ./inbox] [--quiet-ms 5000]
      Start the embedded AWS stack, watch the inbox for lot folders, print each report.
  waferflow replay <lotDir...> [--timeout-s 600]
      Push lots through an ephemeral stack; one JSON report line per lot on stdout.
  waferflow endpoint --port <n> [--model <spec>]
      Serve the model alone on 127.0.0.1 (SageMaker contract: GET /ping, POST /invocations).
  waferflow serve
      The model container's command: the same server on 0.0.0.0:8080 (SAGEMAKER_BIND_TO_PORT).
  waferflow fixtures --out <dir> --lots <n> --wafers <m> --seed <s> [--size <px>|--sizes a,b]
                    [--bit-depth 8|16] [--format png|tiff] [--surface bare|patterned]
                    [--clean-fraction f] [--colour] [--no-lot-json]
      Write seeded synthetic lots that follow docs/wafer-images.md, with truth.json.
  waferflow evaluate <dir> [--json] [--min-recall x ...]
      Score the detector on a labelled set (images + truth.json).
  waferflow agent upload <lotDir...> | agent watch <inbox>
      The edge agent alone, against the S3 bucket named by WAFERFLOW_BUCKET.

Options common to all: --help, --version`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  local: async () => (await import("./local.ts")).runLocalCommand,
  replay: async () => (await import("./replay.ts")).runReplayCommand,
  endpoint: async () => (await import("../endpoint/cli.ts")).runEndpointCommand,
  serve: async () => (await import("../endpoint/cli.ts")).runServeCommand,
  fixtures: async () => (await import("../synth/cli.ts")).runFixturesCommand,
  evaluate: async () => (await import("../endpoint/evaluate.ts")).runEvaluateCommand,
  agent: async () => (await import("../edge-agent/cli.ts")).runAgentCommand,
};

function version(): string {
  const path = fileURLToPath(new URL("../package.json", import.meta.url));
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-v") {
    console.log(version());
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`waferflow: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (error) {
    const e = error as Error;
    console.error(`waferflow ${name}: ${e.name}: ${e.message}`);
    if (process.env.WAFERFLOW_DEBUG) console.error(e.stack);
    return 1;
  }
}
