// Lambda entry for the PreprocessImage state of one Map iteration: resolves the image from the manifest, then preprocesses it.
import { z } from "zod";
import { createS3Client } from "../../lib/aws.ts";
import type { ManifestImage } from "../../schemas/lot.ts";
import { ImageRefSchema } from "../../schemas/workflow.ts";
import { recordImageFailure } from "../image-failure.ts";
import { lambdaHandler } from "../lambda-handler.ts";
import { preprocessImageRef } from "./core.ts";

export const handler = lambdaHandler({
  service: "preprocess-image",
  config: z.object({ BUCKET_NAME: z.string().min(1) }),
  deps: (config) => ({ s3: createS3Client(), bucket: config.BUCKET_NAME }),
  input: ImageRefSchema,
  inputName: "PreprocessImage input",
  logKeys: (ref) => ({ lotId: ref.lotId, index: ref.index }),
  run: async (ref, deps, log) => {
    let image: ManifestImage | undefined;
    try {
      const result = await preprocessImageRef(ref, deps, (resolved) => {
        image = resolved;
        log.appendKeys({ fileName: resolved.fileName });
      });
      log.info("image header read", { ...result.preprocessed });
      return result;
    } catch (error) {
      // Before the manifest names the image there is no result object to keep the failure in.
      if (image) await recordImageFailure({ ...deps, log }, ref.lotId, image, error);
      throw error;
    }
  },
});
