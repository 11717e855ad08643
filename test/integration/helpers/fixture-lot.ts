// Small lots cut from the committed e2e fixture, and what the embedded stack recorded for them (SNS files, S3, DynamoDB).
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";

export const FIXTURE_LOT = resolve(import.meta.dirname, "../../fixtures/lot-e2e");

/** A lot folder with the fixture's first `wafers` images under a new lot id. */
export function fixtureLot(lotId: string, wafers: number): string {
  const dir = join(mkdtempSync(join(tmpdir(), "waferflow-lot-")), lotId);
  const images = readdirSync(FIXTURE_LOT)
    .filter((name) => /\.(png|tiff?)$/.test(name))
    .sort()
    .slice(0, wafers);
  for (const image of images) cpSync(join(FIXTURE_LOT, image), join(dir, image));
  const lot = JSON.parse(readFileSync(join(FIXTURE_LOT, "lot.json"), "utf8")) as object;
  writeFileSync(join(dir, "lot.json"), JSON.stringify({ ...lot, lotId }));
  return dir;
}

export interface PublishedRecord {
  subject?: string;
  message: string;
  attributes: Record<string, string>;
}

/** Every message published to a topic of the stack, from its JSONL file in the data dir. */
export function published(dataDir: string, topicName: string): PublishedRecord[] {
  const file = join(dataDir, "sns", `${topicName}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as PublishedRecord);
}

export function topicName(arn: string): string {
  return arn.split(":").at(-1) ?? arn;
}

export async function storedReport(s3: S3Client, bucket: string, lotId: string) {
  const object = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: `lots/${lotId}/report.json` }),
  );
  return JSON.parse((await object.Body?.transformToString()) ?? "null") as {
    lotId: string;
    status: string;
  };
}

export async function lotItem(db: DynamoDBDocumentClient, table: string, lotId: string) {
  const item = await db.send(
    new GetCommand({ TableName: table, Key: { pk: `LOT#${lotId}`, sk: "LOT" } }),
  );
  return item.Item;
}
