// Lists lots from the lot table with their age and counts, and finds (and alerts on) lots stuck in PROCESSING.

import type { SNSClient } from "@aws-sdk/client-sns";
import { type DynamoDBDocumentClient, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Alert } from "../../schemas/alert.ts";
import { publish } from "../aws-io.ts";
import { dependencyFailure } from "../errors.ts";
import type { CoreLog } from "../lambda-handler.ts";
import { lotItemKey } from "../lot-table.ts";

/** The lot state machine's TimeoutSeconds: a lot PROCESSING for twice that has lost its execution. */
export const STATE_MACHINE_TIMEOUT_SECONDS = 3600;
export const DEFAULT_STUCK_AFTER_SECONDS = 2 * STATE_MACHINE_TIMEOUT_SECONDS;

/** A lot's status as listed: the table's, or STUCK for a lot processing longer than the limit. */
export type ListedStatus =
  | "PROCESSING"
  | "STUCK"
  | "DEFECTS_FOUND"
  | "CLEAN"
  | "INCOMPLETE"
  | "FAILED"
  | "UNKNOWN";

export interface LotSummary {
  lotId: string;
  status: ListedStatus;
  startedAt?: string;
  completedAt?: string;
  /** Seconds since the lot started (or since it was last updated, when it has no start). */
  ageSeconds?: number;
  images?: number;
  rejected?: number;
  counts?: Record<string, unknown>;
  executionId?: string;
  stuckAlertedAt?: string;
}

interface LotItem {
  lotId?: string;
  status?: string;
  startedAt?: string;
  completedAt?: string;
  updatedAt?: string;
  imageCount?: number;
  rejectedCount?: number;
  counts?: Record<string, unknown>;
  executionId?: string;
  stuckAlertedAt?: string;
}

const KNOWN = new Set(["PROCESSING", "DEFECTS_FOUND", "CLEAN", "INCOMPLETE", "FAILED"]);

export function summarise(item: LotItem, now: Date, stuckAfterSeconds: number): LotSummary {
  const since = item.startedAt ?? item.updatedAt;
  const started = since ? Date.parse(since) : Number.NaN;
  const ageSeconds = Number.isFinite(started)
    ? Math.max(0, Math.round((now.getTime() - started) / 1000))
    : undefined;
  const tableStatus = KNOWN.has(item.status ?? "") ? (item.status as ListedStatus) : "UNKNOWN";
  const stuck =
    tableStatus === "PROCESSING" && ageSeconds !== undefined && ageSeconds > stuckAfterSeconds;
  return {
    lotId: item.lotId ?? "?",
    status: stuck ? "STUCK" : tableStatus,
    ...(item.startedAt ? { startedAt: item.startedAt } : {}),
    ...(item.completedAt ? { completedAt: item.completedAt } : {}),
    ...(ageSeconds !== undefined ? { ageSeconds } : {}),
    ...(item.imageCount !== undefined ? { images: item.imageCount } : {}),
    ...(item.rejectedCount !== undefined ? { rejected: item.rejectedCount } : {}),
    ...(item.counts ? { counts: item.counts } : {}),
    ...(item.executionId ? { executionId: item.executionId } : {}),
    ...(item.stuckAlertedAt ? { stuckAlertedAt: item.stuckAlertedAt } : {}),
  };
}

export interface ListLotsOptions {
  /** Only lots with one of these statuses (STUCK included). */
  statuses?: ListedStatus[];
  /** Only lots started (or updated) at or after this time. */
  since?: Date;
  stuckAfterSeconds?: number;
  now?: Date;
}

/** Every lot item in the table, newest first. A scan: the table holds lots, not a fab's history of pixels. */
export async function listLots(
  db: DynamoDBDocumentClient,
  table: string,
  options: ListLotsOptions = {},
): Promise<LotSummary[]> {
  const now = options.now ?? new Date();
  const stuckAfter = options.stuckAfterSeconds ?? DEFAULT_STUCK_AFTER_SECONDS;
  const items: LotItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    try {
      const page = await db.send(
        new ScanCommand({
          TableName: table,
          FilterExpression: "sk = :lot",
          ExpressionAttributeValues: { ":lot": "LOT" },
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...((page.Items ?? []) as LotItem[]));
      startKey = page.LastEvaluatedKey;
    } catch (error) {
      throw dependencyFailure(`scanning ${table} for lots`, error);
    }
  } while (startKey);
  return items
    .map((item) => summarise(item, now, stuckAfter))
    .filter((lot) => !options.statuses || options.statuses.includes(lot.status))
    .filter((lot) => {
      if (!options.since) return true;
      const at = Date.parse(lot.startedAt ?? "");
      return Number.isFinite(at) && at >= options.since.getTime();
    })
    .sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? ""));
}

export interface StuckLotsDeps {
  db: DynamoDBDocumentClient;
  sns: SNSClient;
  table: string;
  alertTopicArn: string;
  stuckAfterSeconds?: number;
  now?: () => Date;
  log?: CoreLog;
}

/**
 * Finds lots PROCESSING longer than the limit and alerts once per lot and execution: the lot
 * item remembers which execution was alerted, so a check every minute does not repeat itself,
 * and a re-driven or reprocessed lot that gets stuck again is alerted again.
 */
export async function alertStuckLots(deps: StuckLotsDeps): Promise<LotSummary[]> {
  const now = (deps.now ?? (() => new Date()))();
  const stuck = await listLots(deps.db, deps.table, {
    statuses: ["STUCK"],
    stuckAfterSeconds: deps.stuckAfterSeconds,
    now,
  });
  const alerted: LotSummary[] = [];
  for (const lot of stuck) {
    const marker = lot.executionId ?? lot.startedAt ?? "unknown";
    if (lot.stuckAlertedAt === marker) continue;
    const alert: Alert = {
      schemaVersion: 1,
      kind: "lot_stuck",
      at: now.toISOString(),
      lotId: lot.lotId,
      message: `lot ${lot.lotId} has been PROCESSING for ${Math.round((lot.ageSeconds ?? 0) / 60)} min (limit ${Math.round((deps.stuckAfterSeconds ?? DEFAULT_STUCK_AFTER_SECONDS) / 60)} min); its execution ${lot.executionId ?? "(unknown)"} is gone or hung: re-drive it or run 'waferflow reprocess ${lot.lotId}'`,
    };
    await publish(deps.sns, deps.alertTopicArn, {
      subject: `waferflow lot ${lot.lotId} STUCK`,
      body: alert,
      attributes: { kind: alert.kind, lotId: lot.lotId },
    });
    try {
      // Only while it is still the same stuck execution: a finish in between wins.
      await deps.db.send(
        new UpdateCommand({
          TableName: deps.table,
          Key: lotItemKey(lot.lotId),
          UpdateExpression: "SET stuckAlertedAt = :marker",
          ConditionExpression: "#status = :processing",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":marker": marker, ":processing": "PROCESSING" },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== "ConditionalCheckFailedException") {
        throw dependencyFailure(`marking lot ${lot.lotId} as alerted`, error);
      }
    }
    deps.log?.warn("lot stuck", { lotId: lot.lotId, ageSeconds: lot.ageSeconds });
    alerted.push(lot);
  }
  return alerted;
}
