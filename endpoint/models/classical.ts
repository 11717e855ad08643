// The default model: the classical-vision detector in endpoint/detector, behind the plugin contract.
import type { GrayImage } from "../../lib/gray-image.ts";
import type { DetectionHints } from "../../schemas/detection.ts";
import { DETECTOR_INFO, detect } from "../detector/index.ts";
import type { DetectionResult, WaferModel } from "./model.ts";

export function createClassicalModel(): WaferModel {
  return {
    info: { ...DETECTOR_INFO },
    // Nothing to read from disk: the detector is code only.
    load: async () => {},
    detect: async (image: GrayImage, hints: DetectionHints): Promise<DetectionResult> =>
      await detect(image, hints),
  };
}
