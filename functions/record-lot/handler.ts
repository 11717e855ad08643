// Lambda entry for the RecordLot state: reads the manifest, writes the lot and its images to the lot table.
import type { Context } from "aws-lambda";
import { z } from "zod";
import { createDocumentClient, createS3Client } from "../../lib/aws.ts";
import { readConfig } from "../../lib/config.ts";
import { RecordLotInputSchema } from "../../schemas/workflow.ts";
import { createLogger, parseInput, shortError } from "../runtime.ts";
import { recordLot } from "./core.ts";

const config = readConfig(
  z.object({ TABLE_NAME: z.string().min(1), BUCKET_NAME: z.string().min(1) }),
);
const logger = createLogger("record-lot");
const db = createDocumentClient();
const s3 = createS3Client();

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  try {
    const input = parseInput(RecordLotInputSchema, "RecordLot input", event);
    const result = await recordLot(input, {
      db,
      s3,
      bucket: config.BUCKET_NAME,
      table: config.TABLE_NAME,
    });
    logger.info("lot recorded", { lotId: input.lotId, images: result.imageCount });
    return result;
  } catch (error) {
    throw shortError(error, logger);
  }
}
