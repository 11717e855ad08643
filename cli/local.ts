// `waferflow local` (npm start): the embedded stack plus an inbox watcher, printing reports as they land.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ConsoleServer } from "../console/server.ts";
import { parseCommandLine, UsageError, wantsHelp } from "../lib/cli.ts";
import { LOCAL_PROFILE, parsePorts, writeClientFiles } from "../local/client-files.ts";
import { quietHandlerLogs } from "./quiet-logs.ts";

export const DEFAULT_CONSOLE_PORT = 8642;

/** The console on its usual port, or on any free one when that is taken. */
async function openConsole(port: number, log: (line: string) => void): Promise<ConsoleServer> {
  const { startConsole } = await import("../console/server.ts");
  try {
    return await startConsole({ port, log });
  } catch (error) {
    if (port === 0) throw error;
    log(`console: port ${port} is taken (${(error as Error).message}); using a free one`);
    return startConsole({ port: 0, log });
  }
}

export const LOCAL_USAGE = `Usage: waferflow local [--data-dir .waferflow] [--inbox ./inbox] [--quiet-ms 5000]
                       [--ports s3=4566,dynamodb=4567,sfn=4568,sns=4569,endpoint=4570]
                       [--console-port 8642] [--json]
  Starts the embedded AWS stack and the operator console on 127.0.0.1 and watches the inbox:
  each lot folder dropped there is uploaded by the edge agent, and its report is printed when
  published. Ctrl-C stops.
  --data-dir      where the stack keeps its state across restarts (default .waferflow)
  --inbox         the folder watched for lot folders (default ./inbox)
  --quiet-ms      a lot without lot.json is complete after this long without changes (default 5000)
  --ports         fixed ports per service (default: free ones); every call must be SigV4-signed
  --console-port  the console's port (default 8642, a free one when taken; 0 = any)
  --json          print each report as its JSON line instead of a table`;

export async function runLocalCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(LOCAL_USAGE);
    return 0;
  }
  const { values } = parseCommandLine(argv, {
    "data-dir": { type: "string", default: ".waferflow" },
    inbox: { type: "string", default: "inbox" },
    "quiet-ms": { type: "string", default: "5000" },
    ports: { type: "string" },
    "console-port": { type: "string", default: String(DEFAULT_CONSOLE_PORT) },
    json: { type: "boolean", default: false },
  });
  let ports: ReturnType<typeof parsePorts> = {};
  try {
    ports = parsePorts(values.ports ?? "");
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const consolePort = Number(values["console-port"]);
  if (!Number.isInteger(consolePort) || consolePort < 0 || consolePort > 65535) {
    throw new UsageError(
      `--console-port must be a port number (0 = any free one), got '${values["console-port"]}'`,
    );
  }
  const quietMs = Number(values["quiet-ms"]);
  if (!Number.isFinite(quietMs) || quietMs < 0) {
    throw new UsageError(
      `--quiet-ms must be a number of milliseconds, got '${values["quiet-ms"]}'`,
    );
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // Loaded once the command line is good: `waferflow local --help` and its usage errors load none
  // of it (about 1 s of CPU per start). The console's server loads when it opens (openConsole).
  const { watchInbox } = await import("../edge-agent/inbox.ts");
  const { uploadLot } = await import("../edge-agent/upload.ts");
  const { loadTemplate, TEMPLATE_PATH } = await import("../infra/template.ts");
  const { createAgentS3Client, createDocumentClient, createS3Client } = await import(
    "../lib/aws.ts"
  );
  const { ENDPOINTS_FILE, stackConnection, writeEndpointsFile } = await import(
    "../local/endpoints-file.ts"
  );
  const { buildLocalModel } = await import("../local/resource-model.ts");
  const { LOCAL_CREDENTIALS, startLocalStack } = await import("../local/stack.ts");
  const { LotEndings, reportTable, summariseReport } = await import("./reports.ts");
  quietHandlerLogs();
  const inbox = resolve(values.inbox);
  mkdirSync(inbox, { recursive: true });
  // The console first: reports link to it, and handlers read REPORT_LINK_BASE_URL when they load.
  const operatorConsole = await openConsole(consolePort, log);
  process.env.REPORT_LINK_BASE_URL = operatorConsole.url;
  let stack: Awaited<ReturnType<typeof startLocalStack>>;
  try {
    stack = await startLocalStack({ dataDir: resolve(values["data-dir"]), ports, log });
  } catch (error) {
    await operatorConsole.close();
    throw error;
  }
  // Built functions (WAFERFLOW_FUNCTIONS=built) run in sandbox processes with the stack's
  // environment, not this process's: the console link must be there too.
  stack.env.REPORT_LINK_BASE_URL = operatorConsole.url;
  // Before the stack announces itself (endpoints.json, the lines below): a signal sent the moment
  // it does must stop it cleanly (watchInbox returns at once on an aborted signal, the finally
  // below removes the file and stops the stack), not kill it with its files open.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // Other processes (waferflow invoke, scripts) find this stack, and may use the file as --env-vars.
  const removeEndpointsFile = writeEndpointsFile({
    Parameters: stackConnection(
      stack.env,
      Object.keys(buildLocalModel(loadTemplate(), TEMPLATE_PATH).functionEnvironment),
    ),
    pid: process.pid,
    dataDir: stack.dataDir,
    endpoints: stack.endpoints,
    names: stack.names,
    consoleUrl: operatorConsole.url,
  });
  const s3 = createS3Client();
  const agentS3 = createAgentS3Client();
  operatorConsole.attach({
    s3,
    db: createDocumentClient(),
    bucket: stack.names.bucket,
    table: stack.names.table,
  });
  const endings = new LotEndings(
    stack,
    s3,
    (ending) => {
      if (ending.kind === "report") {
        operatorConsole.lotChanged(ending.report.lotId);
        if (values.json) {
          console.log(summariseReport(ending.report, stack.names.bucket));
          console.log(JSON.stringify(ending.report));
        } else {
          console.log(`${reportTable(ending.report)}\n`);
        }
      } else {
        console.log(`ALERT ${ending.alert.kind}: ${ending.alert.message}`);
      }
    },
    log,
  );

  console.error(`waferflow local stack is up (data in ${stack.dataDir})`);
  for (const [service, url] of Object.entries(stack.endpoints))
    console.error(`  ${service.padEnd(10)} ${url}`);
  console.error(`  bucket     ${stack.names.bucket}`);
  console.error(`  table      ${stack.names.table}`);
  console.error(`  reports    ${join(stack.dataDir, "sns")}`);
  console.error(`  endpoints  ${join(stack.dataDir, ENDPOINTS_FILE)}`);
  const clientFiles = writeClientFiles(stack.dataDir, {
    credentials: LOCAL_CREDENTIALS,
    region: stack.env.AWS_REGION ?? "us-east-1",
    endpoints: stack.endpoints,
    bucket: stack.names.bucket,
  });
  console.error(
    `Every call must be signed (SigV4) with access key ${LOCAL_CREDENTIALS.accessKeyId}, secret ${LOCAL_CREDENTIALS.secretAccessKey}, region ${stack.env.AWS_REGION}.`,
  );
  console.error(`  env file   ${clientFiles.envFile}   (set -a; . ${clientFiles.envFile}; set +a)`);
  console.error(
    `  profile    ${LOCAL_PROFILE}: AWS_SHARED_CREDENTIALS_FILE=${clientFiles.credentialsFile} AWS_CONFIG_FILE=${clientFiles.configFile} aws --profile ${LOCAL_PROFILE} --endpoint-url <url> ...`,
  );
  console.error(`Console: ${operatorConsole.url}`);
  console.error(
    `Drop lot folders into ${inbox} (a lot is complete when its lot.json appears, or after ${quietMs} ms of quiet). Ctrl-C stops.`,
  );

  try {
    await watchInbox({
      inbox,
      quietMs,
      signal: stop.signal,
      log,
      onLotReady: async (dir: string, { signal }: { signal: AbortSignal }) => {
        const uploaded = await uploadLot({
          dir,
          s3: agentS3,
          bucket: stack.names.bucket,
          stateDir: join(stack.dataDir, "agent"),
          signal,
          log,
        });
        log(
          `lot ${uploaded.lotId}: ${uploaded.uploaded} images uploaded, manifest ${uploaded.manifestKey}`,
        );
      },
    });
  } finally {
    removeEndpointsFile();
    endings.close();
    await operatorConsole.close();
    await stack.stop();
  }
  return 0;
}
