// `waferflow lots` and `waferflow reprocess`: what became of each lot (stuck ones flagged), and an explicit re-run of a finished one.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CopyObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ListExecutionsCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { lotItemKey } from "../functions/lot-table.ts";
import {
  DEFAULT_STUCK_AFTER_SECONDS,
  type ListedStatus,
  type LotSummary,
  listLots,
} from "../functions/lot-watch/core.ts";
import { createDocumentClient, createS3Client, createSfnClient } from "../lib/aws.ts";
import { parseCommandLine, UsageError, wantsHelp } from "../lib/cli.ts";
import { lotKeys } from "../lib/keys.ts";
import { readRunningStack } from "../local/endpoints-file.ts";
import { type DeadLetter, readDeadLetters } from "../local/trigger.ts";
import { LotIdSchema } from "../schemas/common.ts";

export class LotsCommandError extends Error {
  override name = "LotsCommandError";
}

interface Clients {
  db: DynamoDBDocumentClient;
  s3?: S3Client;
  sfn?: SFNClient;
  table: string;
  bucket?: string;
  stateMachineArn?: string;
  /** The embedded stack's data dir, when the lots are local (its dead letters are files there). */
  dataDir?: string;
  close(): Promise<void>;
}

/**
 * The lot table (and for reprocess the bucket and state machine) to talk to: a running
 * `waferflow local` on --data-dir; else, for reading, that data dir's tables opened alone; else
 * what the environment names (TABLE_NAME, BUCKET_NAME, STATE_MACHINE_ARN: AWS, or the
 * endpoints AWS_ENDPOINT_URL_* point at).
 */
async function connect(dataDirOption: string | undefined, needStack: boolean): Promise<Clients> {
  const env = process.env;
  if (dataDirOption === undefined && env.TABLE_NAME) {
    return {
      db: createDocumentClient(),
      s3: createS3Client(),
      sfn: createSfnClient(),
      table: env.TABLE_NAME,
      bucket: env.BUCKET_NAME,
      stateMachineArn: env.STATE_MACHINE_ARN,
      close: async () => {},
    };
  }
  const dataDir = resolve(dataDirOption ?? ".waferflow");
  const running = readRunningStack(dataDir);
  if (running) {
    const env = running.Parameters;
    const common = {
      region: env.AWS_REGION ?? "us-east-1",
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID ?? "",
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "",
      },
    };
    return {
      db: DynamoDBDocumentClient.from(
        new DynamoDBClient({ ...common, endpoint: running.endpoints.dynamodb }),
      ),
      s3: new S3Client({
        ...common,
        endpoint: running.endpoints.s3,
      }),
      sfn: new SFNClient({ ...common, endpoint: running.endpoints.sfn }),
      table: running.names.table ?? "",
      bucket: running.names.bucket,
      stateMachineArn: running.names.stateMachineArn,
      dataDir,
      close: async () => {},
    };
  }
  if (needStack) {
    throw new LotsCommandError(
      `no waferflow local stack is running on ${dataDir}; start it with 'waferflow local --data-dir ${dataDir}'`,
    );
  }
  if (!existsSync(join(dataDir, "dynamodb"))) {
    throw new LotsCommandError(`${dataDir} holds no lot table (no dynamodb/ in it)`);
  }
  // Only the table, read-only in spirit: starting the whole stack would resume its executions.
  const { loadTemplate } = await import("../infra/template.ts");
  const { buildLocalModel, LOCAL_REGION } = await import("../local/resource-model.ts");
  const { startDynamoDb } = await import("../local/dynamodb.ts");
  const { LOCAL_CREDENTIALS } = await import("../local/stack.ts");
  const model = buildLocalModel(loadTemplate(), resolve("template.yaml"));
  const table = model.tables.find((t) => t.logicalId === "LotTable") ?? model.tables[0];
  if (!table) throw new LotsCommandError("template.yaml declares no lot table");
  const dynamodb = await startDynamoDb({
    port: 0,
    directory: join(dataDir, "dynamodb"),
    tables: model.tables,
    log: () => {},
  });
  return {
    db: DynamoDBDocumentClient.from(
      new DynamoDBClient({
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        endpoint: dynamodb.url,
      }),
    ),
    table: table.name,
    dataDir,
    close: () => dynamodb.stop(),
  };
}

/** "90s", "15m", "24h", "7d", or an ISO date; a duration counts back from now. */
export function parseSince(text: string, now = new Date()): Date {
  const duration = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(text.trim());
  if (duration) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[duration[2] as "s" | "m" | "h" | "d"];
    return new Date(now.getTime() - Number(duration[1]) * unit * 1000);
  }
  const at = Date.parse(text);
  if (!Number.isFinite(at)) {
    throw new UsageError(
      `--since must be a duration (90s, 15m, 24h, 7d) or an ISO date, got '${text}'`,
    );
  }
  return new Date(at);
}

/** Seconds from "7200", "90s", "2h" ...; bounded so a typo cannot hide every stuck lot. */
export function parseSeconds(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/.exec(text.trim());
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[(match?.[2] ?? "") as "s"];
  const seconds = match ? Number(match[1]) * unit : Number.NaN;
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 30 * 86400) {
    throw new UsageError(`${name} must be 1 s to 30 days (e.g. 7200, 90m, 2h), got '${text}'`);
  }
  return Math.round(seconds);
}

const STATUSES: ListedStatus[] = [
  "PROCESSING",
  "STUCK",
  "DEFECTS_FOUND",
  "CLEAN",
  "INCOMPLETE",
  "FAILED",
  "UNKNOWN",
];

function parseStatuses(text: string): ListedStatus[] {
  return text.split(",").map((raw) => {
    const status = raw.trim().toUpperCase() as ListedStatus;
    if (!STATUSES.includes(status)) {
      throw new UsageError(`--status '${raw}' is not one of ${STATUSES.join(", ")}`);
    }
    return status;
  });
}

function age(seconds: number | undefined): string {
  if (seconds === undefined) return "?";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

function countsText(lot: LotSummary): string {
  const c = lot.counts as Record<string, number> | undefined;
  if (!c) return `${lot.images ?? "?"} images${lot.rejected ? ` +${lot.rejected} rejected` : ""}`;
  return `${c.images} images: ${c.clean} clean, ${c.withDefects} with defects, ${c.failed} failed, ${c.unusable ?? 0} unusable, ${c.rejected ?? 0} rejected; ${c.defects} defects`;
}

export function formatLots(lots: LotSummary[]): string {
  const rows = lots.map((lot) => [
    lot.lotId,
    lot.status,
    age(lot.ageSeconds),
    countsText(lot),
    lot.executionId?.split(":").pop() ?? "",
  ]);
  const header = ["LOT", "STATUS", "AGE", "COUNTS", "EXECUTION"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows]
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "),
    )
    .join("\n");
}

/** Events the local stack gave up on: a manifest among them is a lot that never started. */
export function formatDeadLetters(letters: DeadLetter[]): string {
  return [
    `${letters.length} event(s) the stack gave up on (dead-letter queues; once the cause is fixed, re-deliver one with 'waferflow invoke <function> -e <its event file>'):`,
    ...letters.map(
      (letter) =>
        `  DEAD-LETTER  ${letter.queue}  ${letter.function}  ${letter.what}: ${letter.reason}  ${letter.eventFile}`,
    ),
  ].join("\n");
}

export const LOTS_USAGE = `Usage: waferflow lots [--status s1,s2] [--since 24h|<ISO date>] [--stuck-after 2h] [--data-dir d] [--json]
  Lists lots from the lot table (the running 'waferflow local', its data dir, or TABLE_NAME on
  AWS): status, age, counts, execution. A lot PROCESSING longer than --stuck-after shows as STUCK
  and the command exits 3. Locally it also lists the events the stack gave up on (a manifest
  among them is a lot that never started), and exits 3 when there are any.
  --status       only these statuses (PROCESSING, DEFECTS_FOUND, CLEAN, INCOMPLETE, FAILED, STUCK)
  --since        only lots started after this (a duration back from now, or an ISO date)
  --stuck-after  how long PROCESSING may last (default 2h, twice the state machine's timeout)
  --data-dir     the embedded stack's data dir (default .waferflow)
  --json         one JSON object per lot`;

export const REPROCESS_USAGE = `Usage: waferflow reprocess <lotId> [--data-dir d]
  Runs a finished lot again as a new execution <lotId>--r<n>; its previous report is kept
  under lots/<lotId>/reports/.
  --data-dir   the embedded stack's data dir (default .waferflow)`;

export async function runLotsCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(LOTS_USAGE);
    return 0;
  }
  const { values } = parseCommandLine(argv, {
    status: { type: "string" },
    since: { type: "string" },
    "data-dir": { type: "string" },
    "stuck-after": { type: "string" },
    json: { type: "boolean", default: false },
  });
  const statuses = values.status ? parseStatuses(values.status) : undefined;
  const since = values.since ? parseSince(values.since) : undefined;
  const stuckAfterSeconds = values["stuck-after"]
    ? parseSeconds("--stuck-after", values["stuck-after"])
    : DEFAULT_STUCK_AFTER_SECONDS;
  const clients = await connect(values["data-dir"], false);
  try {
    const lots = await listLots(clients.db, clients.table, { statuses, since, stuckAfterSeconds });
    const deadLetters = clients.dataDir ? readDeadLetters(clients.dataDir) : [];
    if (values.json) {
      for (const lot of lots) console.log(JSON.stringify(lot));
      for (const deadLetter of deadLetters) console.log(JSON.stringify({ deadLetter }));
    } else {
      console.log(lots.length ? formatLots(lots) : "no lots");
      if (deadLetters.length > 0) console.log(formatDeadLetters(deadLetters));
    }
    return lots.some((lot) => lot.status === "STUCK") || deadLetters.length > 0 ? 3 : 0;
  } finally {
    await clients.close();
  }
}

/** Execution names are at most 80 characters, like lot ids: the run suffix always fits. */
export function reprocessExecutionName(lotId: string, run: number): string {
  const suffix = `--r${run}`;
  return `${lotId.slice(0, 80 - suffix.length)}${suffix}`;
}

export interface ReprocessDeps {
  db: DynamoDBDocumentClient;
  s3: S3Client;
  sfn: SFNClient;
  table: string;
  bucket: string;
  stateMachineArn: string;
}

/**
 * Starts a new execution of a finished lot: name `<lotId>--r<n>`, the same accepted manifest.
 * The previous report is kept under lots/<lotId>/reports/<its execution>.json first, since the
 * new run writes the lot's report (and each image's result, with its model) anew.
 */
export async function reprocessLot(
  lotId: string,
  deps: ReprocessDeps,
): Promise<{ executionName: string; executionArn: string; previousReportKey?: string }> {
  const parsedId = LotIdSchema.safeParse(lotId);
  if (!parsedId.success) throw new LotsCommandError(`'${lotId}' is not a lot id`);
  const item = (
    await deps.db.send(new GetCommand({ TableName: deps.table, Key: lotItemKey(lotId) }))
  ).Item as { status?: string; manifestKey?: string; executionId?: string } | undefined;
  if (!item) throw new LotsCommandError(`lot ${lotId} is not in ${deps.table}`);
  if (item.status === "PROCESSING") {
    throw new LotsCommandError(
      `lot ${lotId} is still PROCESSING (execution ${item.executionId ?? "?"}); reprocess a finished lot, or one 'waferflow lots' shows as STUCK after its execution is stopped`,
    );
  }
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await deps.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: deps.stateMachineArn, nextToken }),
    );
    names.push(...(page.executions ?? []).map((e) => e.name ?? ""));
    nextToken = page.nextToken;
  } while (nextToken);
  const prefix = reprocessExecutionName(lotId, 1).replace(/1$/, "");
  const runs = names
    .filter((name) => name.startsWith(prefix))
    .map((name) => Number(name.slice(prefix.length)))
    .filter(Number.isInteger);
  const executionName = reprocessExecutionName(lotId, Math.max(0, ...runs) + 1);

  let previousReportKey: string | undefined;
  const previousExecution = item.executionId?.split(":").pop();
  if (previousExecution) {
    previousReportKey = `${lotKeys.prefix(lotId)}reports/${previousExecution}.json`;
    try {
      await deps.s3.send(
        new CopyObjectCommand({
          Bucket: deps.bucket,
          CopySource: `${deps.bucket}/${lotKeys.report(lotId)}`,
          Key: previousReportKey,
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== "NoSuchKey") throw error;
      previousReportKey = undefined;
    }
  }
  const started = await deps.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: deps.stateMachineArn,
      name: executionName,
      input: JSON.stringify({
        lotId,
        manifestKey: item.manifestKey ?? lotKeys.acceptedManifest(lotId),
      }),
    }),
  );
  return { executionName, executionArn: started.executionArn ?? "", previousReportKey };
}

export async function runReprocessCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(REPROCESS_USAGE);
    return 0;
  }
  const { values, positionals } = parseCommandLine(
    argv,
    { "data-dir": { type: "string" } },
    { allowPositionals: true },
  );
  if (positionals.length !== 1) throw new UsageError("give exactly one lot id");
  const clients = await connect(values["data-dir"], true);
  try {
    const { s3, sfn, bucket, stateMachineArn } = clients;
    if (!s3 || !sfn || !bucket || !stateMachineArn) {
      throw new LotsCommandError(
        "reprocess needs BUCKET_NAME and STATE_MACHINE_ARN (or a running 'waferflow local')",
      );
    }
    const lotId = positionals[0] as string;
    const started = await reprocessLot(lotId, {
      db: clients.db,
      s3,
      sfn,
      table: clients.table,
      bucket,
      stateMachineArn,
    });
    console.log(JSON.stringify({ lotId, ...started }));
    return 0;
  } finally {
    await clients.close();
  }
}
