// `waferflow local` (npm start): the embedded stack plus an inbox watcher, printing reports as they land.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { watchInbox } from "../edge-agent/inbox.ts";
import { uploadLot } from "../edge-agent/upload.ts";
import { createS3Client } from "../lib/aws.ts";
import { parseCommandLine, UsageError, wantsHelp } from "../lib/cli.ts";
import { startLocalStack } from "../local/stack.ts";
import { LotEndings, quietHandlerLogs, summariseReport } from "./reports.ts";

export const LOCAL_USAGE = `Usage: waferflow local [--data-dir .waferflow] [--inbox ./inbox] [--quiet-ms 5000]
  Starts the embedded AWS stack on 127.0.0.1 and watches the inbox: each lot folder dropped
  there is uploaded by the edge agent, and its report is printed when published. Ctrl-C stops.
  --data-dir   where the stack keeps its state across restarts (default .waferflow)
  --inbox      the folder watched for lot folders (default ./inbox)
  --quiet-ms   a lot without lot.json is complete after this long without changes (default 5000)`;

export async function runLocalCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(LOCAL_USAGE);
    return 0;
  }
  const { values } = parseCommandLine(argv, {
    "data-dir": { type: "string", default: ".waferflow" },
    inbox: { type: "string", default: "inbox" },
    "quiet-ms": { type: "string", default: "5000" },
  });
  const quietMs = Number(values["quiet-ms"]);
  if (!Number.isFinite(quietMs) || quietMs < 0) {
    throw new UsageError(
      `--quiet-ms must be a number of milliseconds, got '${values["quiet-ms"]}'`,
    );
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  quietHandlerLogs();
  const inbox = resolve(values.inbox);
  mkdirSync(inbox, { recursive: true });
  const stack = await startLocalStack({ dataDir: resolve(values["data-dir"]), log });
  const s3 = createS3Client();
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
          s3,
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
    endings.close();
    await stack.stop();
  }
  return 0;
}
