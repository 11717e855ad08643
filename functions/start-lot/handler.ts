// Lambda entry for S3 "Object Created" events on lot manifests (EventBridge rule in template.yaml).
import { z } from "zod";
import { createS3Client, createSfnClient, createSnsClient } from "../../lib/aws.ts";
import { lotIdFromManifestKey } from "../../lib/keys.ts";
import { lambdaHandler } from "../lambda-handler.ts";
import { ObjectCreatedEventSchema, type StartLotResult, startLot } from "./core.ts";

export const handler = lambdaHandler({
  service: "start-lot",
  config: z.object({
    BUCKET_NAME: z.string().min(1),
    STATE_MACHINE_ARN: z.string().min(1),
    ALERT_TOPIC_ARN: z.string().min(1),
  }),
  deps: (config) => ({
    s3: createS3Client(),
    sfn: createSfnClient(),
    sns: createSnsClient(),
    config: {
      bucket: config.BUCKET_NAME,
      stateMachineArn: config.STATE_MACHINE_ARN,
      alertTopicArn: config.ALERT_TOPIC_ARN,
    },
  }),
  input: ObjectCreatedEventSchema,
  inputName: "S3 Object Created event",
  logKeys: (event) => ({
    key: event.detail.object.key,
    lotId: lotIdFromManifestKey(event.detail.object.key),
  }),
  run: (event, deps, log): Promise<StartLotResult> => startLot(event, { ...deps, log }),
});
