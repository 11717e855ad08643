// `waferflow invoke <LogicalId> -e <event.json>`: one built function, one event, against a running `waferflow local` or an own stack.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { buildProblem, loadBuiltFunctions } from "../infra/build-layout.ts";
import { loadTemplate, TEMPLATE_PATH } from "../infra/template.ts";
import { parseCommandLine, UsageError, wantsHelp } from "../lib/cli.ts";
import { readRunningStack } from "../local/endpoints-file.ts";
import { LambdaInvocationError } from "../local/errors.ts";
import { createProcessLambdaInvoker } from "../local/lambda-process.ts";
import { buildLocalModel } from "../local/resource-model.ts";
import type { LocalStack } from "../local/stack.ts";
import { quietHandlerLogs } from "./quiet-logs.ts";

export const INVOKE_USAGE = `Usage: waferflow invoke <LogicalId> -e <event.json> [--env-vars <file>] [--data-dir <dir>]

Runs one function of .aws-sam/build (npm run build) with one event, the way sam local invoke does:
its bundle in a Node process of its own, its template environment, its Timeout. AWS calls go to the
local stack that holds --data-dir (a running 'waferflow local', found by its endpoints.json), else to
a stack started for this one invocation (on --data-dir when given, else on a temporary dir).

  -e, --event <file>     the event (JSON)
  --env-vars <file>      variables to set, as for sam local invoke: {"Parameters": {...}, "<LogicalId>": {...}}
  --data-dir <dir>       default .waferflow

Prints the function's result (JSON) on stdout. Exit 0: success; 1: the function failed (errorType
and message on stderr); 2: usage error.`;

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new UsageError(`cannot read ${what} ${path}: ${(cause as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new UsageError(`${what} ${path} is not JSON: ${(cause as Error).message}`);
  }
}

/** sam's env-vars format: "Parameters" for every function, then the function's own entry, each name to string. */
function envVarsFor(path: string, logicalId: string): Record<string, string> {
  const content = readJson(path, "env-vars file");
  if (!content || typeof content !== "object" || Array.isArray(content)) {
    throw new UsageError(`env-vars file ${path} must be a JSON object`);
  }
  const variables: Record<string, string> = {};
  for (const section of ["Parameters", logicalId]) {
    const entries = (content as Record<string, unknown>)[section];
    if (entries === undefined) continue;
    if (!entries || typeof entries !== "object" || Array.isArray(entries)) {
      throw new UsageError(`env-vars file ${path}: "${section}" must map names to values`);
    }
    for (const [name, value] of Object.entries(entries)) {
      if (typeof value === "object" && value !== null) {
        throw new UsageError(`env-vars file ${path}: ${section}.${name} must be a string`);
      }
      variables[name] = String(value);
    }
  }
  return variables;
}

export async function runInvokeCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(INVOKE_USAGE);
    return 0;
  }
  const parsed = parseOptions(argv);
  if (parsed.help) {
    console.log(INVOKE_USAGE);
    return 0;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let stack: LocalStack | undefined;
  let closeInvoker: (() => Promise<void>) | undefined;
  try {
    const model = buildLocalModel(loadTemplate(), TEMPLATE_PATH);
    const fn = model.functions.find((candidate) => candidate.logicalId === parsed.logicalId);
    if (!fn) {
      throw new UsageError(
        `no function '${parsed.logicalId}' in template.yaml (functions: ${model.functions.map((f) => f.logicalId).join(", ")})`,
      );
    }
    const event = readJson(parsed.eventPath, "event file");
    const overrides = parsed.envVarsPath ? envVarsFor(parsed.envVarsPath, fn.logicalId) : {};
    const problem = buildProblem();
    if (problem) throw new UsageError(problem);
    const built = loadBuiltFunctions({ checkFresh: false });

    quietHandlerLogs();
    const dataDir = resolve(parsed.dataDir ?? ".waferflow");
    const running = readRunningStack(dataDir);
    let connection: Record<string, string>;
    if (running) {
      log(`invoke: using the local stack of process ${running.pid} (${dataDir})`);
      connection = running.Parameters;
    } else {
      const ownDir = parsed.dataDir !== undefined && existsSync(dataDir);
      log(
        `invoke: no running stack holds ${dataDir}; starting one ${ownDir ? `on ${dataDir}` : "on a temporary dir"}`,
      );
      // Loaded only here: against a running stack (the usual case) the command needs none of the
      // stack's services, and loading them is most of a `waferflow invoke` start's CPU.
      const { startLocalStack } = await import("../local/stack.ts");
      stack = await startLocalStack({
        ...(ownDir ? { dataDir } : { ephemeral: true }),
        functions: "built",
        // The model server is the slow part of starting: only the function that calls it needs it.
        startEndpoint: "ENDPOINT_NAME" in fn.environment,
        log: (line) => log(`[waferflow local] ${line}`),
      });
      connection = stack.env;
    }
    const target = { ...fn, environment: { ...fn.environment, ...overrides } };
    const invoker = createProcessLambdaInvoker({
      functions: [target],
      built,
      stackEnvironment: () => connection,
      sharedFunctionVariables: Object.keys(model.functionEnvironment),
      log: () => {},
    });
    closeInvoker = () => invoker.close();
    const result = await invoker.invoke(target, event);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof LambdaInvocationError) {
      console.error(`${error.errorType}: ${error.errorMessage}`);
      return 1;
    }
    throw error;
  } finally {
    await closeInvoker?.();
    await stack?.stop();
  }
}

function parseOptions(argv: string[]) {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      event: { type: "string", short: "e" },
      "env-vars": { type: "string" },
      "data-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    { allowPositionals: true },
  );
  if (values.help) return { help: true as const, logicalId: "", eventPath: "" };
  const [logicalId, ...extra] = positionals;
  if (!logicalId) throw new UsageError("give the function's logical id, e.g. StartLotFunction");
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  if (!values.event) throw new UsageError("give the event file with -e <event.json>");
  return {
    help: false as const,
    logicalId,
    eventPath: resolve(values.event),
    envVarsPath: values["env-vars"] ? resolve(values["env-vars"]) : undefined,
    dataDir: values["data-dir"],
  };
}
