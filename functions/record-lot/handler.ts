// Lambda entry for the RecordLot state: writes the lot and its images to the lot table.
import type { Context } from "aws-lambda";
import { z } from "zod";
import { createDocumentClient } from "../../lib/aws.ts";
import { readConfig } from "../../lib/config.ts";
import { RecordLotInputSchema } from "../../schemas/workflow.ts";
import { createLogger, parseInput } from "../runtime.ts";
import { recordLot } from "./core.ts";

const config = readConfig(z.object({ TABLE_NAME: z.string().min(1) }));
const logger = createLogger("record-lot");
const db = createDocumentClient();

export async function handler(event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  const input = parseInput(RecordLotInputSchema, "RecordLot input", event);
  const result = await recordLot(input, { db, table: config.TABLE_NAME });
  logger.info("lot recorded", { lotId: result.lotId, images: result.images });
  return result;
}
