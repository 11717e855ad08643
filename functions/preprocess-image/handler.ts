// Lambda entry for the PreprocessImage state of one Map iteration: resolves the image from the manifest, then preprocesses it.
import type { Context } from "aws-lambda";
import { z } from "zod";
import { createS3Client } from "../../lib/aws.ts";
import { readConfig } from "../../lib/config.ts";
import { ImageRefSchema } from "../../schemas/workflow.ts";
import { recordImageFailure } from "../image-failure.ts";
import { createLogger, parseInput, shortError } from "../runtime.ts";
import { preprocessImageRef } from "./core.ts";

const config = readConfig(z.object({ BUCKET_NAME: z.string().min(1) }));
const logger = createLogger("preprocess-image");
const s3 = createS3Client();

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  const deps = { s3, bucket: config.BUCKET_NAME, log: logger };
  let image: { fileName: string; key: string } | undefined;
  let lotId: string | undefined;
  try {
    const ref = parseInput(ImageRefSchema, "PreprocessImage input", event);
    lotId = ref.lotId;
    const result = await preprocessImageRef(ref, deps, (resolved) => {
      image = resolved;
    });
    logger.info("image verified", {
      lotId: ref.lotId,
      fileName: result.image.fileName,
      ...result.preprocessed,
    });
    return result;
  } catch (error) {
    if (lotId && image) await recordImageFailure(deps, lotId, image, error);
    throw shortError(error, logger, { lotId, fileName: image?.fileName });
  }
}
