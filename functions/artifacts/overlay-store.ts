// Draws and stores one wafer's overlay: the only artifact that needs pixels (sharp), so only DetectDefects bundles it.
import type { S3Client } from "@aws-sdk/client-s3";
import { lotKeys } from "../../lib/keys.ts";
import type { InvocationResponse } from "../../schemas/detection.ts";
import { ArtifactError } from "../errors.ts";
import { renderOverlay } from "./overlay.ts";
import { CONTENT_TYPES, putObject } from "./store.ts";

/** Draws the wafer's overlay from the image the endpoint measured, stores it, returns its key. */
export async function writeOverlay(
  deps: { s3: S3Client; bucket: string },
  lotId: string,
  fileName: string,
  image: Uint8Array,
  response: Pick<InvocationResponse, "wafer" | "defects">,
): Promise<string> {
  let webp: Buffer;
  try {
    ({ webp } = await renderOverlay({ image, wafer: response.wafer, defects: response.defects }));
  } catch (cause) {
    throw new ArtifactError(`cannot draw the overlay of ${fileName}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const key = lotKeys.overlay(lotId, fileName);
  await putObject(deps.s3, deps.bucket, key, webp, CONTENT_TYPES.webp);
  return key;
}
