// Lambda entry for the scheduled stuck-lot check (template.yaml: LotWatchFunction, every 15 minutes).
import { z } from "zod";
import { createDocumentClient, createSnsClient } from "../../lib/aws.ts";
import { lambdaHandler } from "../lambda-handler.ts";
import { alertStuckLots, DEFAULT_STUCK_AFTER_SECONDS } from "./core.ts";

export const handler = lambdaHandler({
  service: "lot-watch",
  config: z.object({
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
  deps: (config) => ({
    db: createDocumentClient(),
    sns: createSnsClient(),
    table: config.TABLE_NAME,
    alertTopicArn: config.ALERT_TOPIC_ARN,
    stuckAfterSeconds: config.STUCK_AFTER_SECONDS,
  }),
  // The schedule's event says only that it is time: whatever it holds is not read.
  input: z.unknown(),
  inputName: "scheduled event",
  run: async (_event, deps, log) => {
    const alerted = await alertStuckLots({ ...deps, log });
    return { stuck: alerted.map((lot) => lot.lotId) };
  },
});
