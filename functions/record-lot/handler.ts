// Lambda entry for the RecordLot state: reads the manifest, writes the lot and its images to the lot table.
import { z } from "zod";
import { createDocumentClient, createS3Client } from "../../lib/aws.ts";
import { RecordLotInputSchema } from "../../schemas/workflow.ts";
import { lambdaHandler } from "../lambda-handler.ts";
import { recordLot } from "./core.ts";

export const handler = lambdaHandler({
  service: "record-lot",
  config: z.object({ TABLE_NAME: z.string().min(1), BUCKET_NAME: z.string().min(1) }),
  deps: (config) => ({
    db: createDocumentClient(),
    s3: createS3Client(),
    bucket: config.BUCKET_NAME,
    table: config.TABLE_NAME,
  }),
  input: RecordLotInputSchema,
  inputName: "RecordLot input",
  logKeys: (input) => ({ lotId: input.lotId }),
  run: async (input, deps, log) => {
    const result = await recordLot(input, deps);
    log.info("lot recorded", { images: result.imageCount });
    return result;
  },
});
