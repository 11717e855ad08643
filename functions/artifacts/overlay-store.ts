// Stores one wafer's overlay as the endpoint drew it (the answer's `overlay`): no pixels are touched here, so DetectDefects needs no image library.
import type { S3Client } from "@aws-sdk/client-s3";
import { isWebpFile } from "../../lib/image-format.ts";
import { lotKeys } from "../../lib/keys.ts";
import type { Picture } from "../../schemas/detection.ts";
import { ModelResponseError } from "../errors.ts";
import { CONTENT_TYPES, putObject } from "./store.ts";

/**
 * Stores the overlay the endpoint drew on the raster it decoded (so the original is decoded once,
 * and the picture encoded once) and returns its key. Bytes that are not a WebP file are the
 * endpoint breaking its contract, and are not stored under an overlay's name.
 */
export async function storeOverlay(
  deps: { s3: S3Client; bucket: string },
  lotId: string,
  fileName: string,
  overlay: Picture,
): Promise<string> {
  const webp = Buffer.from(overlay.data, "base64");
  if (!isWebpFile(webp)) {
    throw new ModelResponseError(
      `the endpoint's overlay of ${fileName} is not a WebP file (${webp.length} bytes)`,
    );
  }
  const key = lotKeys.overlay(lotId, fileName);
  await putObject(deps.s3, deps.bucket, key, webp, CONTENT_TYPES.webp);
  return key;
}
