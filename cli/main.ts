// The `waferflow` command line: one entry, one sub-command per job, each loaded only when used.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { UsageError, usageErrorLine } from "../lib/cli.ts";

const USAGE = `waferflow - wafer defect detection pipeline

Usage:
  waferflow local [--data-dir .waferflow] [--inbox ./inbox] [--quiet-ms 5000]
                  [--ports s3=4566,dynamodb=4567,sfn=4568,sns=4569,endpoint=4570]
                  [--console-port 8642] [--json]
      Start the embedded AWS stack and its console, watch the inbox for lot folders, print
      each report as a table (--json: as JSON); client credentials and endpoints go to
      <data-dir>/aws.env and <data-dir>/aws/.
  waferflow report <lotId> [--format json|klarf|csv] [--data-dir .waferflow]
      Print a stored lot report (from the running local stack, or from its data dir).
  waferflow replay <lotDir...> [--timeout-s 600]
      Push lots through an ephemeral stack; one JSON report line per lot on stdout.
  waferflow endpoint [--port <n>] [--model <spec>] [--endpoint-name <name>]
      Serve the model alone on 127.0.0.1 (SageMaker contract: GET /ping, POST /invocations).
  waferflow serve
      The model container's command: the same server on 0.0.0.0:8080 (SAGEMAKER_BIND_TO_PORT).
  waferflow fixtures --out <dir> --lots <n> --wafers <m> --seed <s> [--size <px>|--sizes a,b]
                    [--bit-depth 8|16] [--format png|tiff] [--surface bare|patterned]
                    [--clean-fraction f] [--colour] [--no-lot-json]
                    [--artefacts all|<kind,...>] [--artefact-mix p]
                    [--out-of-spec <kind>] [--out-of-spec-fraction f]
      Write seeded synthetic lots that follow docs/wafer-images.md, with truth.json; camera
      artefacts and out-of-spec images on request.
  waferflow evaluate <dir> [--json] [--model <spec>] [--min-recall x] [--min-precision x]
                    [--min-class-accuracy x] [--min-wafer-accuracy x]
      Score a model on a labelled set (images + truth.json).
  waferflow agent upload <lotDir...> | agent watch <inbox>
      The edge agent alone, against the S3 bucket named by WAFERFLOW_BUCKET.
  waferflow invoke <LogicalId> -e <event.json> [--env-vars <file>] [--data-dir <dir>]
      Run one built function (npm run build) with one event against the local stack.
  waferflow lots [--status s1,s2] [--since 24h|<ISO date>] [--stuck-after 2h] [--data-dir d] [--json]
      List lots from the lot table: status (STUCK when processing too long), age, counts, execution.
  waferflow reprocess <lotId> [--data-dir d]
      Run a finished lot again as a new execution <lotId>--r<n>; its previous report is kept.

'waferflow <command> --help' shows a command's options. Also: waferflow --help, --version.
Exit status: 0 done, 1 failed, 2 the command line is wrong.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  local: async () => (await import("./local.ts")).runLocalCommand,
  replay: async () => (await import("./replay.ts")).runReplayCommand,
  report: async () => (await import("./report.ts")).runReportCommand,
  endpoint: async () => (await import("../endpoint/cli.ts")).runEndpointCommand,
  serve: async () => (await import("../endpoint/cli.ts")).runServeCommand,
  fixtures: async () => (await import("../synth/cli.ts")).runFixturesCommand,
  evaluate: async () => (await import("../qa/evaluate.ts")).runEvaluateCommand,
  agent: async () => (await import("../edge-agent/cli.ts")).runAgentCommand,
  invoke: async () => (await import("./invoke.ts")).runInvokeCommand,
  lots: async () => (await import("./lots.ts")).runLotsCommand,
  reprocess: async () => (await import("./lots.ts")).runReprocessCommand,
};

/** Every command `waferflow` knows, in the order its usage lists them. */
export const COMMAND_NAMES = Object.keys(COMMANDS);

function version(): string {
  const path = fileURLToPath(new URL("../package.json", import.meta.url));
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return 0;
  }
  if (name === "--version" || name === "-v") {
    console.log(version());
    return 0;
  }
  if (!name) {
    console.error(usageErrorLine("waferflow", "give a command"));
    return 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(usageErrorLine("waferflow", `unknown command '${name}'`));
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(usageErrorLine(`waferflow ${name}`, error.message));
      return 2;
    }
    // The message says what went wrong; class names and stacks are for WAFERFLOW_DEBUG.
    const message = error instanceof Error ? error.message : String(error);
    console.error(`waferflow ${name}: ${message}`);
    if (process.env.WAFERFLOW_DEBUG) console.error(error instanceof Error ? error.stack : error);
    return 1;
  }
}
