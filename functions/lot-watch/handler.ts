// Lambda entry for the scheduled stuck-lot check (template.yaml: LotWatchFunction, every 15 minutes).
import type { Context } from "aws-lambda";
import { z } from "zod";
import { createDocumentClient, createSnsClient } from "../../lib/aws.ts";
import { readConfig } from "../../lib/config.ts";
import { createLogger, shortError } from "../runtime.ts";
import { alertStuckLots, DEFAULT_STUCK_AFTER_SECONDS } from "./core.ts";

const config = readConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    ALERT_TOPIC_ARN: z.string().min(1),
    /** From 10 minutes to 7 days; default twice the state machine's timeout. */
    STUCK_AFTER_SECONDS: z.coerce
      .number()
      .int()
      .min(600)
      .max(7 * 24 * 3600)
      .default(DEFAULT_STUCK_AFTER_SECONDS),
  }),
);
const logger = createLogger("lot-watch");
const db = createDocumentClient();
const sns = createSnsClient();

export async function handler(_event: unknown, context?: Context) {
  if (context) logger.addContext(context);
  try {
    const alerted = await alertStuckLots({
      db,
      sns,
      table: config.TABLE_NAME,
      alertTopicArn: config.ALERT_TOPIC_ARN,
      stuckAfterSeconds: config.STUCK_AFTER_SECONDS,
      log: logger,
    });
    return { stuck: alerted.map((lot) => lot.lotId) };
  } catch (error) {
    throw shortError(error, logger);
  }
}
