// The plugin contract every model behind the endpoint fulfils: the classical detector, ONNX models and chains of them.
import type { GrayImage } from "../../lib/gray-image.ts";
import type { DetectionHints, ModelInfo } from "../../schemas/detection.ts";
import type { DetectionResult } from "../detector/index.ts";

export type { DetectionResult };

export interface WaferModel {
  info: ModelInfo;
  /** Reads model files and checks them; the server answers /ping with 200 only after it resolves. */
  load(): Promise<void>;
  detect(image: GrayImage, hints: DetectionHints): Promise<DetectionResult>;
}

/** A stage that revises another model's result (relabels, rescores, drops false alarms). */
export interface RefinementStage {
  info: ModelInfo;
  load(): Promise<void>;
  refine(image: GrayImage, result: DetectionResult): Promise<DetectionResult>;
}
