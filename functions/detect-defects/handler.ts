// Lambda entry for the DetectDefects state of one Map iteration.
import { z } from "zod";
import { createS3Client, createSageMakerRuntimeClient } from "../../lib/aws.ts";
import { DetectInputSchema } from "../../schemas/workflow.ts";
import { recordImageFailure } from "../image-failure.ts";
import { lambdaHandler } from "../lambda-handler.ts";
import { detectDefects } from "./core.ts";

export const handler = lambdaHandler({
  service: "detect-defects",
  config: z.object({ BUCKET_NAME: z.string().min(1), ENDPOINT_NAME: z.string().min(1) }),
  deps: (config) => ({
    s3: createS3Client(),
    sagemaker: createSageMakerRuntimeClient(),
    bucket: config.BUCKET_NAME,
    endpointName: config.ENDPOINT_NAME,
  }),
  input: DetectInputSchema,
  inputName: "DetectDefects input",
  logKeys: (input) => ({ lotId: input.lotId, index: input.index, fileName: input.image.fileName }),
  run: async (input, deps, log) => {
    try {
      const outcome = await detectDefects(input, deps);
      log.info("image inspected", { ...outcome });
      return outcome;
    } catch (error) {
      // The state machine carries only the error's name: the message is kept with the image.
      await recordImageFailure({ ...deps, log }, input.lotId, input.image, error);
      throw error;
    }
  },
});
