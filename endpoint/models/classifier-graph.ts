// The second-stage defect classifier as numbers: its ONNX graph, and the same forward pass in JS for training and checks.
import { encodeOnnxModel, type NodeInit, TensorDataType, type TensorInit } from "./onnx-proto.ts";

/** What the second stage predicts, in output column order; false_alarm means "drop it". */
export const STAGE_CLASSES = [
  "particle",
  "scratch",
  "void",
  "stain",
  "edge_chip",
  "false_alarm",
] as const;
export type StageClass = (typeof STAGE_CLASSES)[number];

export const STAGE_INPUT_NAME = "features";
export const STAGE_OUTPUT_NAME = "probabilities";
/** metadata_props keys the stage checks, so a model trained on other features is refused. */
export const METADATA_FEATURE_SET = "waferflow.feature_set";
export const METADATA_CLASSES = "waferflow.classes";
/** The classical detector version (endpoint/detector/version.ts) whose output the stage was trained on. */
export const METADATA_DETECTOR_VERSION = "waferflow.detector_version";

export interface DenseLayer {
  /** Row-major [inputs][outputs]. */
  weights: number[][];
  bias: number[];
}

export interface ClassifierWeights {
  /** Standardisation applied inside the graph: (x - mean) / scale. */
  mean: number[];
  scale: number[];
  /** ReLU between layers, softmax after the last. */
  layers: DenseLayer[];
}

function checkShapes(weights: ClassifierWeights): void {
  let width = weights.mean.length;
  if (weights.scale.length !== width) throw new RangeError("mean and scale differ in length");
  if (weights.scale.some((s) => !(s > 0))) throw new RangeError("every scale must be positive");
  for (const [i, layer] of weights.layers.entries()) {
    if (layer.weights.length !== width) {
      throw new RangeError(
        `layer ${i} takes ${layer.weights.length} inputs, previous gives ${width}`,
      );
    }
    const out = layer.bias.length;
    if (layer.weights.some((row) => row.length !== out)) {
      throw new RangeError(`layer ${i}: every weight row must have ${out} columns`);
    }
    width = out;
  }
  if (width !== STAGE_CLASSES.length) {
    throw new RangeError(`last layer gives ${width} outputs, expected ${STAGE_CLASSES.length}`);
  }
}

/** Softmax probabilities for one feature vector: the reference the ONNX graph must agree with. */
export function forwardClassifier(
  weights: ClassifierWeights,
  features: ArrayLike<number>,
): number[] {
  let x = Array.from(features, (v, i) => (v - (weights.mean[i] ?? 0)) / (weights.scale[i] ?? 1));
  weights.layers.forEach((layer, index) => {
    const out = layer.bias.slice();
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] ?? 0;
      const row = layer.weights[i] ?? [];
      for (let j = 0; j < out.length; j++) out[j] = (out[j] ?? 0) + xi * (row[j] ?? 0);
    }
    x = index < weights.layers.length - 1 ? out.map((v) => Math.max(0, v)) : out;
  });
  const max = Math.max(...x);
  const exps = x.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

/**
 * features [N, F] float32 → probabilities [N, 6] float32, as Sub, Div, (MatMul, Add, Relu)*,
 * MatMul, Add, Softmax: every operator in the default domain at opset 13.
 */
export function encodeClassifierOnnx(
  weights: ClassifierWeights,
  info: { version: string; featureSet: string; docString?: string; detectorVersion?: string },
): Uint8Array {
  checkShapes(weights);
  const featureCount = weights.mean.length;
  const initializers: TensorInit[] = [
    { name: "feature_mean", dims: [featureCount], values: weights.mean },
    { name: "feature_scale", dims: [featureCount], values: weights.scale },
  ];
  const nodes: NodeInit[] = [
    { opType: "Sub", inputs: [STAGE_INPUT_NAME, "feature_mean"], outputs: ["centred"] },
    { opType: "Div", inputs: ["centred", "feature_scale"], outputs: ["standardised"] },
  ];
  let current = "standardised";
  weights.layers.forEach((layer, i) => {
    const rows = layer.weights.length;
    const cols = layer.bias.length;
    initializers.push(
      { name: `dense${i}_weight`, dims: [rows, cols], values: layer.weights.flat() },
      { name: `dense${i}_bias`, dims: [cols], values: layer.bias },
    );
    nodes.push(
      { opType: "MatMul", inputs: [current, `dense${i}_weight`], outputs: [`dense${i}_product`] },
      {
        opType: "Add",
        inputs: [`dense${i}_product`, `dense${i}_bias`],
        outputs: [`dense${i}_out`],
      },
    );
    current = `dense${i}_out`;
    if (i < weights.layers.length - 1) {
      nodes.push({ opType: "Relu", inputs: [current], outputs: [`dense${i}_relu`] });
      current = `dense${i}_relu`;
    }
  });
  nodes.push({
    opType: "Softmax",
    inputs: [current],
    outputs: [STAGE_OUTPUT_NAME],
    attributes: [{ name: "axis", int: -1 }],
  });
  return encodeOnnxModel({
    graphName: "waferflow_defect_classifier",
    producerVersion: info.version,
    ...(info.docString ? { docString: info.docString } : {}),
    inputs: [
      { name: STAGE_INPUT_NAME, elemType: TensorDataType.FLOAT, shape: ["N", featureCount] },
    ],
    outputs: [
      {
        name: STAGE_OUTPUT_NAME,
        elemType: TensorDataType.FLOAT,
        shape: ["N", STAGE_CLASSES.length],
      },
    ],
    initializers,
    nodes,
    metadata: {
      [METADATA_FEATURE_SET]: info.featureSet,
      [METADATA_CLASSES]: STAGE_CLASSES.join(","),
      "waferflow.model_version": info.version,
      ...(info.detectorVersion ? { [METADATA_DETECTOR_VERSION]: info.detectorVersion } : {}),
    },
  });
}

export interface StagePolicy {
  /** Drop a detection when false_alarm is its most likely class with at least this probability. */
  dropFalseAlarmAt: number;
  /** Replace the detector's class only when the stage's best real class is at least this likely. */
  relabelAt: number;
}

export const DEFAULT_STAGE_POLICY: StagePolicy = { dropFalseAlarmAt: 0.7, relabelAt: 0.8 };

export type StageDecision =
  | { drop: true }
  | { drop: false; class: Exclude<StageClass, "false_alarm">; score: number };

/**
 * What the second stage does with one detection given its probabilities (STAGE_CLASSES order).
 * The detector is right most of the time, so an unsure stage keeps the detector's class and
 * only rescores it; the score is always the stage's probability for the class reported.
 */
export function decideStage(
  probabilities: ArrayLike<number>,
  detectorClass: string,
  policy: StagePolicy = DEFAULT_STAGE_POLICY,
): StageDecision {
  const falseAlarm = STAGE_CLASSES.indexOf("false_alarm");
  let best = 0;
  let bestReal = -1;
  for (let j = 0; j < STAGE_CLASSES.length; j++) {
    const p = probabilities[j] as number;
    if (p > (probabilities[best] as number)) best = j;
    if (j !== falseAlarm && (bestReal < 0 || p > (probabilities[bestReal] as number))) bestReal = j;
  }
  if (best === falseAlarm && (probabilities[best] as number) >= policy.dropFalseAlarmAt) {
    return { drop: true };
  }
  const detectorIndex = STAGE_CLASSES.indexOf(detectorClass as StageClass);
  const keepDetector =
    detectorIndex >= 0 &&
    detectorIndex !== falseAlarm &&
    (probabilities[bestReal] as number) < policy.relabelAt;
  const chosen = keepDetector ? detectorIndex : bestReal;
  const label = STAGE_CLASSES[chosen] as Exclude<StageClass, "false_alarm">;
  const score = Math.min(1, Math.max(0, probabilities[chosen] as number));
  return { drop: false, class: label, score };
}
