// Reads lots for the console: the lot table for the list, S3 for reports, pictures and KLARF.
import { GetObjectCommand, NoSuchKey, type S3Client } from "@aws-sdk/client-s3";
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { lotKeys } from "../lib/keys.ts";
import { LotIdSchema } from "../schemas/common.ts";
import { type Report, ReportSchema } from "../schemas/report.ts";
import { BadRequestError, NotFoundError } from "./errors.ts";

export interface LotSource {
  s3: S3Client;
  db: DynamoDBDocumentClient;
  bucket: string;
  table: string;
}

/** One row of the lot list, from the lot's table item. */
export interface LotRow {
  lotId: string;
  status: string;
  imageCount?: number;
  counts?: Report["counts"];
  metadata?: Report["metadata"];
  startedAt?: string;
  completedAt?: string;
  updatedAt?: string;
}

export async function listLots(source: LotSource): Promise<LotRow[]> {
  const rows: LotRow[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await source.db.send(
      new ScanCommand({
        TableName: source.table,
        FilterExpression: "sk = :lot",
        ExpressionAttributeValues: { ":lot": "LOT" },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      rows.push({
        lotId: String(item.lotId ?? String(item.pk).replace(/^LOT#/, "")),
        status: String(item.status ?? "UNKNOWN"),
        imageCount: item.imageCount as number | undefined,
        counts: item.counts as LotRow["counts"],
        metadata: item.metadata as LotRow["metadata"],
        startedAt: item.startedAt as string | undefined,
        completedAt: item.completedAt as string | undefined,
        updatedAt: item.updatedAt as string | undefined,
      });
    }
    start = page.LastEvaluatedKey;
  } while (start);
  const when = (row: LotRow) => row.startedAt ?? row.updatedAt ?? "";
  return rows.sort((a, b) => when(b).localeCompare(when(a)));
}

export function checkLotId(lotId: string): string {
  if (!LotIdSchema.safeParse(lotId).success) {
    throw new BadRequestError(`'${lotId}' is not a lot id`);
  }
  return lotId;
}

/** Only what is written next to a report is served: no images, manifests or other prefixes. */
const SERVABLE =
  /^lots\/([^/]+)\/(report\.json|report\.klarf|wafer-map\.svg|overlays\/[A-Za-z0-9._-]+\.webp)$/;

export const FILE_TYPES: Record<string, string> = {
  json: "application/json",
  klarf: "text/plain; charset=utf-8",
  svg: "image/svg+xml",
  webp: "image/webp",
};

export function checkServableKey(key: string): string {
  const match = SERVABLE.exec(key);
  if (!match?.[1] || key.includes("..")) throw new BadRequestError(`'${key}' is not served`);
  checkLotId(match[1]);
  return key;
}

export async function readObject(source: LotSource, key: string): Promise<Uint8Array> {
  try {
    const object = await source.s3.send(new GetObjectCommand({ Bucket: source.bucket, Key: key }));
    return (await object.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === "NoSuchKey") {
      throw new NotFoundError(`no ${key}`);
    }
    throw error;
  }
}

export async function readReport(source: LotSource, lotId: string): Promise<Report> {
  const bytes = await readObject(source, lotKeys.report(checkLotId(lotId)));
  return ReportSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
}
