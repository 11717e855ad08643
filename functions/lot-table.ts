// The lot table's item layout: one lot item and one item per image, under the lot's partition.
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { ManifestImage } from "../schemas/lot.ts";
import { dependencyFailure, TransientDependencyError } from "./errors.ts";

export const LOT_ITEM_STATUSES = [
  "PROCESSING",
  "DEFECTS_FOUND",
  "CLEAN",
  "INCOMPLETE",
  "FAILED",
] as const;
export type LotItemStatus = (typeof LOT_ITEM_STATUSES)[number];

export const lotItemKey = (lotId: string) => ({ pk: `LOT#${lotId}`, sk: "LOT" });
export const imageItemKey = (lotId: string, fileName: string) => ({
  pk: `LOT#${lotId}`,
  sk: `IMAGE#${fileName}`,
});

/**
 * What an image's item holds from its manifest entry: RecordLot writes it with status PENDING, and
 * the report rewrites the whole item (a put in a batch, 25 items per request, not one UpdateItem
 * per image), so both build it here and the report's rewrite loses none of RecordLot's attributes.
 */
export function recordedImageItem(
  lotId: string,
  index: number,
  image: Pick<ManifestImage, "fileName" | "key" | "sha256" | "bytes">,
) {
  return {
    ...imageItemKey(lotId, image.fileName),
    entity: "image",
    lotId,
    index,
    fileName: image.fileName,
    key: image.key,
    sha256: image.sha256,
    bytes: image.bytes,
  };
}

/** Writes items in batches of 25, retrying what DynamoDB hands back unprocessed. */
export async function batchPut(
  db: DynamoDBDocumentClient,
  table: string,
  items: Record<string, unknown>[],
): Promise<void> {
  for (let start = 0; start < items.length; start += 25) {
    let requests = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 5) {
        throw new TransientDependencyError(
          `${requests.length} items stayed unprocessed in ${table}`,
        );
      }
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      try {
        const result = await db.send(
          new BatchWriteCommand({ RequestItems: { [table]: requests } }),
        );
        requests = (result.UnprocessedItems?.[table] ?? []) as typeof requests;
      } catch (error) {
        throw dependencyFailure(`writing ${requests.length} items to ${table}`, error);
      }
    }
  }
}

/** Sets the given attributes on one item (creating it when missing). */
export async function updateItem(
  db: DynamoDBDocumentClient,
  table: string,
  key: Record<string, string>,
  values: Record<string, unknown>,
): Promise<void> {
  const entries = Object.entries(values).filter(([, v]) => v !== undefined);
  const names = Object.fromEntries(entries.map(([k], i) => [`#a${i}`, k]));
  const attributeValues = Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v]));
  const expression = `SET ${entries.map((_, i) => `#a${i} = :v${i}`).join(", ")}`;
  try {
    await db.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: expression,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: attributeValues,
      }),
    );
  } catch (error) {
    throw dependencyFailure(`updating ${key.pk}/${key.sk} in ${table}`, error);
  }
}

/** Who ends a lot as FAILED: the workflow's own Catch, or the rule on the execution's end. */
export type FailureClaimant = "workflow" | "execution-status-change";

/**
 * Takes the right to end a lot as FAILED, once: only a lot still PROCESSING for this execution
 * (or not recorded yet) can be claimed, so a lot that already has a final status never gets a
 * second report or alert. The same claimant may claim again, so a retried task can finish its work.
 * Returns false when someone else already ended the lot.
 */
export async function claimLotFailure(
  db: DynamoDBDocumentClient,
  table: string,
  claim: { lotId: string; executionId: string; claimant: FailureClaimant; at: string },
): Promise<boolean> {
  const claimedBy = `${claim.claimant}:${claim.executionId}`;
  try {
    await db.send(
      new UpdateCommand({
        TableName: table,
        Key: lotItemKey(claim.lotId),
        UpdateExpression:
          "SET #status = :failed, #claimedBy = :claimedBy, #updatedAt = :at, #lotId = :lotId",
        ConditionExpression:
          "attribute_not_exists(pk) OR (#status = :processing AND (attribute_not_exists(#executionId) OR #executionId = :executionId)) OR (#status = :failed AND #claimedBy = :claimedBy)",
        ExpressionAttributeNames: {
          "#status": "status",
          "#claimedBy": "failureClaimedBy",
          "#updatedAt": "updatedAt",
          "#lotId": "lotId",
          "#executionId": "executionId",
        },
        ExpressionAttributeValues: {
          ":failed": "FAILED",
          ":processing": "PROCESSING",
          ":claimedBy": claimedBy,
          ":executionId": claim.executionId,
          ":at": claim.at,
          ":lotId": claim.lotId,
        },
      }),
    );
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === "ConditionalCheckFailedException") return false;
    throw dependencyFailure(`claiming lot ${claim.lotId} as FAILED in ${table}`, error);
  }
}
