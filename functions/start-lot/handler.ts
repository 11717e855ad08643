// Lambda entry for S3 "Object Created" events on lot manifests (EventBridge rule in template.yaml).
import type { Context } from "aws-lambda";
import { z } from "zod";
import { createS3Client, createSfnClient, createSnsClient } from "../../lib/aws.ts";
import { readConfig } from "../../lib/config.ts";
import { createLogger, parseInput } from "../runtime.ts";
import { ObjectCreatedEventSchema, type StartLotResult, startLot } from "./core.ts";

const config = readConfig(
  z.object({
    BUCKET_NAME: z.string().min(1),
    STATE_MACHINE_ARN: z.string().min(1),
    ALERT_TOPIC_ARN: z.string().min(1),
  }),
);
const logger = createLogger("start-lot");
const s3 = createS3Client();
const sfn = createSfnClient();
const sns = createSnsClient();

export async function handler(event: unknown, context?: Context): Promise<StartLotResult> {
  if (context) logger.addContext(context);
  const parsed = parseInput(ObjectCreatedEventSchema, "S3 Object Created event", event);
  return startLot(parsed, {
    s3,
    sfn,
    sns,
    log: logger,
    config: {
      bucket: config.BUCKET_NAME,
      stateMachineArn: config.STATE_MACHINE_ARN,
      alertTopicArn: config.ALERT_TOPIC_ARN,
    },
  });
}
