// Lambda entry for the PreprocessImage state of one Map iteration.
import type { Context } from "aws-lambda";
import { z } from "zod";
import { createS3Client } from "../../lib/aws.ts";
import { readConfig } from "../../lib/config.ts";
import { ImageTaskInputSchema } from "../../schemas/workflow.ts";
import { createLogger, parseInput } from "../runtime.ts";
import { preprocessImage } from "./core.ts";

const config = readConfig(z.object({ BUCKET_NAME: z.string().min(1) }));
const logger = createLogger("preprocess-image");
const s3 = createS3Client();

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  const input = parseInput(ImageTaskInputSchema, "PreprocessImage input", event);
  const result = await preprocessImage(input, { s3, bucket: config.BUCKET_NAME });
  logger.info("image verified", {
    lotId: input.lotId,
    fileName: input.image.fileName,
    ...result,
  });
  return result;
}
