// The default model: the classical-vision detector in endpoint/detector, behind the plugin contract.
import type { GrayImage } from "../../lib/gray-image.ts";
import type { DetectionHints } from "../../schemas/detection.ts";
import { DETECTOR_INFO } from "../detector/version.ts";
import type { DetectionResult, WaferModel } from "./model.ts";

/**
 * The detector's code, imported at the first load() or detect(): a server whose inferences run in
 * worker threads names the model in its own thread without loading the detector (0.5-0.8 s of CPU).
 */
let detector: Promise<typeof import("../detector/index.ts")> | undefined;
const loadDetector = () => {
  detector ??= import("../detector/index.ts");
  return detector;
};

export function createClassicalModel(): WaferModel {
  return {
    info: { ...DETECTOR_INFO },
    // Nothing to read from disk: the detector is code only.
    load: async () => {
      await loadDetector();
    },
    detect: async (image: GrayImage, hints: DetectionHints): Promise<DetectionResult> =>
      await (await loadDetector()).detect(image, hints),
  };
}
