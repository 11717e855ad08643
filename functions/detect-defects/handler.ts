// Lambda entry for the DetectDefects state of one Map iteration.
import type { Context } from "aws-lambda";
import { z } from "zod";
import { createS3Client, createSageMakerRuntimeClient } from "../../lib/aws.ts";
import { readConfig } from "../../lib/config.ts";
import { DetectInputSchema } from "../../schemas/workflow.ts";
import { recordImageFailure } from "../image-failure.ts";
import { createLogger, parseInput, shortError } from "../runtime.ts";
import { detectDefects } from "./core.ts";

const config = readConfig(
  z.object({ BUCKET_NAME: z.string().min(1), ENDPOINT_NAME: z.string().min(1) }),
);
const logger = createLogger("detect-defects");
const s3 = createS3Client();
const sagemaker = createSageMakerRuntimeClient();

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  const input = (() => {
    try {
      return parseInput(DetectInputSchema, "DetectDefects input", event);
    } catch (error) {
      throw shortError(error, logger);
    }
  })();
  try {
    const outcome = await detectDefects(input, {
      s3,
      sagemaker,
      bucket: config.BUCKET_NAME,
      endpointName: config.ENDPOINT_NAME,
    });
    logger.info("image inspected", {
      lotId: input.lotId,
      fileName: input.image.fileName,
      ...outcome,
    });
    return outcome;
  } catch (error) {
    await recordImageFailure(
      { s3, bucket: config.BUCKET_NAME, log: logger },
      input.lotId,
      input.image,
      error,
    );
    throw shortError(error, logger, { lotId: input.lotId, fileName: input.image.fileName });
  }
}
