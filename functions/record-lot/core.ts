// Records a lot and each of its images in DynamoDB when its execution starts, and hands the Map one index per image.
import type { S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { RecordLotInput, RecordLotOutput } from "../../schemas/workflow.ts";
import { ManifestInvalidError } from "../errors.ts";
import { batchPut, lotItemKey, recordedImageItem } from "../lot-table.ts";
import { loadManifest } from "../manifest.ts";

export async function recordLot(
  input: RecordLotInput,
  deps: {
    db: DynamoDBDocumentClient;
    s3: S3Client;
    bucket: string;
    table: string;
    now?: () => Date;
  },
): Promise<RecordLotOutput> {
  const { manifest, sha256 } = await loadManifest(deps.s3, deps.bucket, input.manifestKey);
  if (manifest.lotId !== input.lotId) {
    throw new ManifestInvalidError(
      `manifest ${input.manifestKey} is for lot ${manifest.lotId}, not ${input.lotId}`,
    );
  }
  const updatedAt = (deps.now ?? (() => new Date()))().toISOString();
  const rejected = manifest.rejected ?? [];
  const lotItem = {
    ...lotItemKey(input.lotId),
    entity: "lot",
    lotId: input.lotId,
    status: "PROCESSING",
    manifestKey: input.manifestKey,
    manifestSha256: sha256,
    metadata: manifest.metadata,
    imageCount: manifest.images.length,
    rejectedCount: rejected.length,
    executionId: input.executionId,
    startedAt: input.startedAt,
    updatedAt,
  };
  const imageItems = manifest.images.map((image, index) => ({
    ...recordedImageItem(input.lotId, index, image),
    status: "PENDING",
    updatedAt,
  }));
  // One batch path for both: a retried task rewrites the same items, so it stays idempotent.
  await batchPut(deps.db, deps.table, [lotItem, ...imageItems]);
  return {
    manifestSha256: sha256,
    imageCount: manifest.images.length,
    rejectedCount: rejected.length,
    indexes: manifest.images.map((_, index) => index),
  };
}
