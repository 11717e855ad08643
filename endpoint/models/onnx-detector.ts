// Placeholder until the ONNX replacement detector lands.
import { ModelLoadError } from "../errors.ts";
import type { WaferModel } from "./model.ts";

export function createOnnxDetectorModel(path: string): WaferModel {
  return {
    info: { name: "onnx", version: "0" },
    load: async () => {
      throw new ModelLoadError(`ONNX replacement model is not implemented yet (${path})`);
    },
    detect: async () => {
      throw new ModelLoadError("not implemented");
    },
  };
}
