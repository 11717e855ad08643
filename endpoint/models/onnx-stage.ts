// Placeholder until the ONNX second stage lands.
import { ModelLoadError } from "../errors.ts";
import type { RefinementStage } from "./model.ts";

export function createOnnxRefinementStage(path: string): RefinementStage {
  return {
    info: { name: "onnx", version: "0" },
    load: async () => {
      throw new ModelLoadError(`ONNX second stage is not implemented yet (${path})`);
    },
    refine: async (_image, result) => result,
  };
}
