// `waferflow local` (npm start): the embedded stack plus an inbox watcher, printing reports as they land.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { watchInbox } from "../edge-agent/inbox.ts";
import { uploadLot } from "../edge-agent/upload.ts";
import { loadTemplate, TEMPLATE_PATH } from "../infra/template.ts";
import { createAgentS3Client, createS3Client } from "../lib/aws.ts";
import { LOCAL_PROFILE, parsePorts, writeClientFiles } from "../local/client-files.ts";
import { ENDPOINTS_FILE, stackConnection, writeEndpointsFile } from "../local/endpoints-file.ts";
import { buildLocalModel } from "../local/model.ts";
import { LOCAL_CREDENTIALS, startLocalStack } from "../local/stack.ts";
import { LotEndings, quietHandlerLogs, summariseReport } from "./reports.ts";

export async function runLocalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string", default: ".waferflow" },
      inbox: { type: "string", default: "inbox" },
      "quiet-ms": { type: "string", default: "5000" },
      ports: { type: "string" },
    },
  });
  let ports: ReturnType<typeof parsePorts> = {};
  try {
    ports = parsePorts(values.ports ?? "");
  } catch (error) {
    console.error(`waferflow local: ${(error as Error).message}`);
    return 2;
  }
  const quietMs = Number(values["quiet-ms"]);
  if (!Number.isFinite(quietMs) || quietMs < 0) {
    console.error(
      `waferflow local: --quiet-ms must be a number of milliseconds, got '${values["quiet-ms"]}'`,
    );
    return 2;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  quietHandlerLogs();
  const inbox = resolve(values.inbox);
  mkdirSync(inbox, { recursive: true });
  const stack = await startLocalStack({ dataDir: resolve(values["data-dir"]), ports, log });
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
  });
  const s3 = createS3Client();
  const agentS3 = createAgentS3Client();
  const endings = new LotEndings(
    stack,
    s3,
    (ending) => {
      if (ending.kind === "report") {
        console.log(summariseReport(ending.report, stack.names.bucket));
        console.log(JSON.stringify(ending.report));
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
  console.error(
    `Drop lot folders into ${inbox} (a lot is complete when its lot.json appears, or after ${quietMs} ms of quiet). Ctrl-C stops.`,
  );

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
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
    await stack.stop();
  }
  return 0;
}
