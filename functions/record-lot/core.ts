// Records a lot and each of its images in DynamoDB when its execution starts.
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { RecordLotInput } from "../../schemas/workflow.ts";
import { batchPut, imageItemKey, lotItemKey } from "../lot-table.ts";

export async function recordLot(
  input: RecordLotInput,
  deps: { db: DynamoDBDocumentClient; table: string; now?: () => Date },
): Promise<{ lotId: string; images: number }> {
  const updatedAt = (deps.now ?? (() => new Date()))().toISOString();
  const lotItem = {
    ...lotItemKey(input.lotId),
    entity: "lot",
    lotId: input.lotId,
    status: "PROCESSING",
    manifestKey: input.manifestKey,
    metadata: input.metadata,
    imageCount: input.images.length,
    executionId: input.executionId,
    startedAt: input.startedAt,
    updatedAt,
  };
  const imageItems = input.images.map((image) => ({
    ...imageItemKey(input.lotId, image.fileName),
    entity: "image",
    lotId: input.lotId,
    fileName: image.fileName,
    key: image.key,
    sha256: image.sha256,
    bytes: image.bytes,
    status: "PENDING",
    updatedAt,
  }));
  // One batch path for both: a retried task rewrites the same items, so it stays idempotent.
  await batchPut(deps.db, deps.table, [lotItem, ...imageItems]);
  return { lotId: input.lotId, images: imageItems.length };
}
