// The ONNX second stage: a customer's classifier relabels, rescores or drops what the detector reported.
import { basename, extname } from "node:path";
import * as ort from "onnxruntime-node";
import type { GrayImage } from "../../lib/gray-image.ts";
import type { Defect } from "../../schemas/detection.ts";
import { DETECTOR_VERSION } from "../detector/version.ts";
import { ModelLoadError, ModelNotLoadedError, ModelOutputError } from "../errors.ts";
import {
  DEFAULT_STAGE_POLICY,
  decideStage,
  METADATA_CLASSES,
  METADATA_DETECTOR_VERSION,
  METADATA_FEATURE_SET,
  STAGE_CLASSES,
  STAGE_INPUT_NAME,
  STAGE_OUTPUT_NAME,
  type StagePolicy,
} from "./classifier-graph.ts";
import { defectFeatures, FEATURE_COUNT, FEATURE_SET } from "./features.ts";
import type { DetectionResult, RefinementStage } from "./model.ts";
import { createOnnxSession, readOnnxFile } from "./onnx-file.ts";

/**
 * The second-stage contract (docs in endpoint/models/README.md):
 *   input  `features`      float32 [N, FEATURE_COUNT]  (features.ts, FEATURE_SET)
 *   output `probabilities` float32 [N, 6] over STAGE_CLASSES, rows summing to 1
 * Optional metadata_props `waferflow.feature_set`, `waferflow.classes` and
 * `waferflow.detector_version` must match when present: a stage trained on the output of
 * another detector version (other thresholds, other false alarms) is refused.
 */
export type OnnxStageOptions = Partial<StagePolicy>;

function describeShape(meta: ort.InferenceSession.ValueMetadata | undefined): string {
  if (!meta) return "nothing";
  if (!meta.isTensor) return `non-tensor '${meta.name}'`;
  return `'${meta.name}' ${meta.type} [${meta.shape.join(", ")}]`;
}

/** Checks a value's declared type and that its fixed dimensions agree with what we feed or read. */
function fits(
  meta: ort.InferenceSession.ValueMetadata | undefined,
  lastDim: number,
): meta is ort.InferenceSession.TensorValueMetadata {
  if (!meta?.isTensor || meta.type !== "float32") return false;
  // An unknown shape is allowed: the run itself then checks.
  if (meta.shape.length === 0) return true;
  return meta.shape.length === 2 && meta.shape[1] === lastDim && typeof meta.shape[0] !== "number";
}

export function createOnnxRefinementStage(
  path: string,
  options: OnnxStageOptions = {},
): RefinementStage {
  const policy: StagePolicy = { ...DEFAULT_STAGE_POLICY, ...options };
  let session: ort.InferenceSession | undefined;
  let inputName = STAGE_INPUT_NAME;
  let outputName = STAGE_OUTPUT_NAME;
  const stage: RefinementStage = {
    info: { name: `onnx-${basename(path, extname(path))}`, version: "unloaded" },
    async load() {
      const { bytes, metadata } = await readOnnxFile(path);
      const featureSet = metadata[METADATA_FEATURE_SET];
      if (featureSet !== undefined && featureSet !== FEATURE_SET) {
        throw new ModelLoadError(
          `${path} was trained on features '${featureSet}'; this server computes '${FEATURE_SET}'`,
        );
      }
      const trainedFor = metadata[METADATA_DETECTOR_VERSION];
      if (trainedFor !== undefined && trainedFor !== DETECTOR_VERSION) {
        throw new ModelLoadError(
          `${path} was trained on the output of detector ${trainedFor}; this server runs detector ${DETECTOR_VERSION}: retrain it (npm run build:model)`,
        );
      }
      const classes = metadata[METADATA_CLASSES];
      if (classes !== undefined && classes !== STAGE_CLASSES.join(",")) {
        throw new ModelLoadError(
          `${path} predicts classes [${classes}]; the second stage expects [${STAGE_CLASSES.join(",")}]`,
        );
      }
      const created = await createOnnxSession(path, bytes);
      const input = created.inputMetadata.length === 1 ? created.inputMetadata[0] : undefined;
      if (!fits(input, FEATURE_COUNT)) {
        await created.release();
        throw new ModelLoadError(
          `${path} must take one float32 input [N, ${FEATURE_COUNT}] (the ${FEATURE_SET} features); it takes ${created.inputMetadata.map(describeShape).join(", ") || "nothing"}`,
        );
      }
      const output =
        created.outputMetadata.find((meta) => meta.name === STAGE_OUTPUT_NAME) ??
        (created.outputMetadata.length === 1 ? created.outputMetadata[0] : undefined);
      if (!fits(output, STAGE_CLASSES.length)) {
        await created.release();
        throw new ModelLoadError(
          `${path} must give float32 '${STAGE_OUTPUT_NAME}' [N, ${STAGE_CLASSES.length}] over ${STAGE_CLASSES.join(", ")}; it gives ${created.outputMetadata.map(describeShape).join(", ") || "nothing"}`,
        );
      }
      inputName = input.name;
      outputName = output.name;
      session = created;
      stage.info = { ...stage.info, version: metadata["waferflow.model_version"] ?? "unversioned" };
    },
    async refine(image: GrayImage, result: DetectionResult): Promise<DetectionResult> {
      if (!session) throw new ModelNotLoadedError(`ONNX stage ${path} is not loaded`);
      const started = performance.now();
      const count = result.defects.length;
      if (count === 0) return { ...result, timingMs: { ...result.timingMs, onnx: 0 } };
      const features = new Float32Array(count * FEATURE_COUNT);
      result.defects.forEach((defect, i) => {
        const row = defectFeatures(image, result.wafer, defect);
        // A degenerate box can give NaN; the model must still see a number.
        for (let j = 0; j < FEATURE_COUNT; j++) {
          const value = row[j] as number;
          features[i * FEATURE_COUNT + j] = Number.isFinite(value) ? value : 0;
        }
      });
      let probabilities: Float32Array;
      try {
        const outputs = await session.run({
          [inputName]: new ort.Tensor("float32", features, [count, FEATURE_COUNT]),
        });
        const tensor = outputs[outputName];
        if (tensor?.type !== "float32" || tensor.data.length !== count * STAGE_CLASSES.length) {
          throw new ModelOutputError(
            `ONNX stage ${path} gave ${tensor ? `${tensor.type} [${tensor.dims.join(", ")}]` : "no output"}; expected float32 [${count}, ${STAGE_CLASSES.length}]`,
          );
        }
        probabilities = tensor.data as Float32Array;
      } catch (cause) {
        if (cause instanceof ModelOutputError) throw cause;
        throw new ModelOutputError(`ONNX stage ${path} failed: ${(cause as Error).message}`, {
          cause,
        });
      }
      const defects: Defect[] = [];
      result.defects.forEach((defect, i) => {
        const row = probabilities.subarray(
          i * STAGE_CLASSES.length,
          (i + 1) * STAGE_CLASSES.length,
        );
        const decision = decideStage(row, defect.class, policy);
        if (!decision.drop)
          defects.push({ ...defect, class: decision.class, score: decision.score });
      });
      const onnxMs = Math.round((performance.now() - started) * 100) / 100;
      return { ...result, defects, timingMs: { ...result.timingMs, onnx: onnxMs } };
    },
  };
  return stage;
}
