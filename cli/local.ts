// `waferflow local` (npm start): the embedded stack plus an inbox watcher, printing reports as they land.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { watchInbox } from "../edge-agent/inbox.ts";
import { uploadLot } from "../edge-agent/upload.ts";
import { DEFAULT_STUCK_AFTER_SECONDS } from "../functions/lot-watch/core.ts";
import { createS3Client } from "../lib/aws.ts";
import { LOCAL_CREDENTIALS, startLocalStack } from "../local/stack.ts";
import { createLotWatch } from "./lot-watch.ts";
import { parseSeconds, STACK_FILE, type StackFile } from "./lots.ts";
import { LotEndings, quietHandlerLogs, summariseReport } from "./reports.ts";

export async function runLocalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string", default: ".waferflow" },
      inbox: { type: "string", default: "inbox" },
      "quiet-ms": { type: "string", default: "5000" },
      "stuck-after": { type: "string", default: String(DEFAULT_STUCK_AFTER_SECONDS) },
    },
  });
  const stuckAfterSeconds = parseSeconds("--stuck-after", values["stuck-after"]);
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

  // Other commands (waferflow lots, reprocess) find this stack through its data dir.
  const stackFile = join(stack.dataDir, STACK_FILE);
  const described: StackFile = {
    pid: process.pid,
    endpoints: stack.endpoints,
    names: stack.names,
    credentials: LOCAL_CREDENTIALS,
    region: stack.env.AWS_REGION ?? "us-east-1",
  };
  writeFileSync(stackFile, `${JSON.stringify(described, null, 2)}\n`, { mode: 0o600 });
  // The same check the scheduled LotWatchFunction runs on AWS, every minute.
  const watch = createLotWatch(stack, stuckAfterSeconds, log);

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
    watch.stop();
    rmSync(stackFile, { force: true });
    endings.close();
    await stack.stop();
  }
  return 0;
}
