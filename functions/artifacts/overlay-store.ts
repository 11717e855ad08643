// Draws and stores one wafer's overlay: the only artifact that needs pixels (sharp), so only DetectDefects bundles it.
import type { S3Client } from "@aws-sdk/client-s3";
import { lotKeys } from "../../lib/keys.ts";
import type { InvocationResponse } from "../../schemas/detection.ts";
import { ArtifactError } from "../errors.ts";
import { renderOverlay } from "./overlay.ts";
import { CONTENT_TYPES, putObject } from "./store.ts";

/**
 * Draws the wafer's overlay on the preview the endpoint rendered from the raster it decoded (so
 * the original is decoded once, by the endpoint), stores it, returns its key.
 */
export async function writeOverlay(
  deps: { s3: S3Client; bucket: string },
  lotId: string,
  fileName: string,
  response: Pick<InvocationResponse, "wafer" | "defects" | "preview">,
): Promise<string> {
  const { wafer, defects, preview } = response;
  let webp: Buffer;
  try {
    if (!preview) throw new Error("the endpoint's answer carries no preview to draw on");
    ({ webp } = await renderOverlay({
      image: Buffer.from(preview.data, "base64"),
      measuredIn: { width: wafer.imageWidth, height: wafer.imageHeight },
      wafer,
      defects,
    }));
  } catch (cause) {
    throw new ArtifactError(`cannot draw the overlay of ${fileName}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const key = lotKeys.overlay(lotId, fileName);
  await putObject(deps.s3, deps.bucket, key, webp, CONTENT_TYPES.webp);
  return key;
}
