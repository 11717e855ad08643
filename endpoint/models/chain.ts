// Runs a base model and then refinement stages over its result, as one model with one name.
import type { GrayImage } from "../../lib/gray-image.ts";
import type { DetectionHints } from "../../schemas/detection.ts";
import type { DetectionResult, RefinementStage, WaferModel } from "./model.ts";

export function chainModels(base: WaferModel, stages: RefinementStage[]): WaferModel {
  return {
    // A getter, because stages learn their version from their files only when loaded.
    get info() {
      const all = [base.info, ...stages.map((stage) => stage.info)];
      return {
        name: all.map((info) => info.name).join("+"),
        version: all.map((info) => info.version).join("+"),
      };
    },
    load: async () => {
      await base.load();
      for (const stage of stages) await stage.load();
    },
    detect: async (image: GrayImage, hints: DetectionHints): Promise<DetectionResult> => {
      let result = await base.detect(image, hints);
      for (const stage of stages) result = await stage.refine(image, result);
      return result;
    },
  };
}
