// Keeps the reason an image failed in its result object, so only the error's name has to travel through the state machine.
import type { S3Client } from "@aws-sdk/client-s3";
import { lotKeys } from "../lib/keys.ts";
import type { ManifestImage } from "../schemas/lot.ts";
import type { ImageResult } from "../schemas/report.ts";
import { putJson } from "./aws-io.ts";
import { truncate } from "./errors.ts";
import type { CoreLog } from "./lambda-handler.ts";

/** Longest failure message kept for the report (the full error with its stack is in the logs). */
export const MAX_FAILURE_MESSAGE_LENGTH = 500;

/**
 * Writes a `failed` result for the image. Every failed attempt writes it, so after the last
 * retry it holds the last error; an attempt that then succeeds overwrites it with the result.
 * Best effort: the report still names the error when this write is lost.
 */
export async function recordImageFailure(
  deps: { s3: S3Client; bucket: string; log?: CoreLog },
  lotId: string,
  image: Pick<ManifestImage, "fileName" | "key">,
  error: unknown,
): Promise<void> {
  const e = error instanceof Error ? error : new Error(String(error));
  const result: ImageResult = {
    fileName: image.fileName,
    key: image.key,
    status: "failed",
    error: { name: e.name || "Error", message: truncate(e.message, MAX_FAILURE_MESSAGE_LENGTH) },
    defects: [],
  };
  try {
    await putJson(deps.s3, deps.bucket, lotKeys.result(lotId, image.fileName), result);
  } catch (writeError) {
    deps.log?.warn("could not keep the failure of an image", {
      lotId,
      fileName: image.fileName,
      writeError: (writeError as Error).message,
    });
  }
}
