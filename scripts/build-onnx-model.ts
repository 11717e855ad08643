// Trains the second-stage defect classifier on synthetic wafers and writes endpoint/models/wafer-classifier.onnx.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DETECTOR_VERSION, detect, WaferNotFoundError } from "../endpoint/detector/index.ts";
import {
  type ClassifierWeights,
  DEFAULT_STAGE_POLICY,
  decideStage,
  encodeClassifierOnnx,
  forwardClassifier,
  STAGE_CLASSES,
  type StageClass,
  type StagePolicy,
} from "../endpoint/models/classifier-graph.ts";
import {
  defectFeatures,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_SET,
} from "../endpoint/models/features.ts";
import { decodeGray } from "../lib/gray-image.ts";
import { seededRandom } from "../lib/random.ts";
import { boxesMatch, iou } from "../qa/evaluate.ts";
import type { Defect, DetectionHints } from "../schemas/detection.ts";
import type { TruthDefect } from "../schemas/truth.ts";
import { generateWafer } from "../synth/generate.ts";

export const MODEL_VERSION = "2.0.0";
const DEFAULT_OUT = "endpoint/models/wafer-classifier.onnx";

export interface Sample {
  features: Float32Array;
  label: number;
  detectorClass: Defect["class"];
  wafer: number;
}

/** The class a report deserves: the best-overlapping true defect it matches, else a false alarm. */
export function labelFor(
  report: Pick<Defect, "bbox">,
  truth: ReadonlyArray<Pick<TruthDefect, "class" | "bbox">>,
): StageClass {
  let best: StageClass = "false_alarm";
  let bestIou = -1;
  for (const t of truth) {
    if (!boxesMatch(t.bbox, report.bbox)) continue;
    const overlap = iou(t.bbox, report.bbox);
    if (overlap > bestIou) {
      bestIou = overlap;
      best = t.class;
    }
  }
  return best;
}

async function collectSamples(
  seed: number,
  wafers: number,
  log: (line: string) => void,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const sizes = [512, 1024, 1024, 2048];
  for (let index = 0; index < wafers; index++) {
    const size = sizes[index % sizes.length] as number;
    // Defective wafers only: clean ones add false alarms but no class information, and the
    // generator's clean share already appears through each wafer's own false alarms.
    const generated = await generateWafer(seed, index, { size, clean: index % 8 === 7 });
    const image = await decodeGray(generated.bytes);
    let result: ReturnType<typeof detect>;
    try {
      // Hints as a lot's metadata gives them: the diameter always, the notch for half the lots.
      const hints: DetectionHints = { waferDiameterMm: generated.truth.diameterMm };
      if (index % 2 === 0) hints.notchAngleDeg = generated.truth.notchAngleDeg;
      result = detect(image, hints);
    } catch (error) {
      if (error instanceof WaferNotFoundError) continue;
      throw error;
    }
    for (const defect of result.defects) {
      const label = labelFor(defect, generated.truth.defects);
      samples.push({
        features: defectFeatures(image, result.wafer, defect),
        label: STAGE_CLASSES.indexOf(label),
        detectorClass: defect.class,
        wafer: index,
      });
    }
    if ((index + 1) % 25 === 0)
      log(`  ${index + 1}/${wafers} wafers, ${samples.length} detections`);
  }
  return samples;
}

async function loadOrCollectSamples(
  cachePath: string | undefined,
  seed: number,
  wafers: number,
  log: (line: string) => void,
): Promise<Sample[]> {
  if (cachePath && existsSync(cachePath)) {
    const cached = JSON.parse(await readFile(cachePath, "utf8")) as {
      seed: number;
      wafers: number;
      featureSet: string;
      detectorVersion?: string;
      samples: Array<Omit<Sample, "features"> & { features: number[] }>;
    };
    if (
      cached.seed !== seed ||
      cached.wafers !== wafers ||
      cached.featureSet !== FEATURE_SET ||
      cached.detectorVersion !== DETECTOR_VERSION
    ) {
      throw new RangeError(
        `${cachePath} holds seed ${cached.seed}, ${cached.wafers} wafers, ${cached.featureSet}, detector ${cached.detectorVersion ?? "unknown"}; delete it or match it (detector ${DETECTOR_VERSION})`,
      );
    }
    log(`build-onnx-model: ${cached.samples.length} detections from ${cachePath}`);
    return cached.samples.map((s) => ({ ...s, features: Float32Array.from(s.features) }));
  }
  log(`build-onnx-model: detecting defects on ${wafers} synthetic wafers (seed ${seed})`);
  const samples = await collectSamples(seed, wafers, log);
  if (cachePath) {
    const plain = samples.map((s) => ({ ...s, features: Array.from(s.features) }));
    await writeFile(
      cachePath,
      JSON.stringify({
        seed,
        wafers,
        featureSet: FEATURE_SET,
        detectorVersion: DETECTOR_VERSION,
        samples: plain,
      }),
    );
  }
  return samples;
}

export interface TrainOptions {
  hidden: number;
  epochs: number;
  learningRate: number;
  l2: number;
  seed: number;
}

/** Full-batch Adam on class-balanced cross-entropy; deterministic for a given seed. */
export function trainClassifier(samples: Sample[], options: TrainOptions): ClassifierWeights {
  const n = samples.length;
  const F = FEATURE_COUNT;
  const K = STAGE_CLASSES.length;
  const Hd = options.hidden;
  const mean = new Array<number>(F).fill(0);
  const scale = new Array<number>(F).fill(0);
  for (const s of samples)
    for (let j = 0; j < F; j++) mean[j] = (mean[j] as number) + (s.features[j] as number) / n;
  for (const s of samples) {
    for (let j = 0; j < F; j++)
      scale[j] = (scale[j] as number) + ((s.features[j] as number) - (mean[j] as number)) ** 2 / n;
  }
  for (let j = 0; j < F; j++) scale[j] = Math.sqrt(scale[j] as number) || 1;
  const x = samples.map((s) =>
    Array.from(s.features, (v, j) => (v - (mean[j] as number)) / (scale[j] as number)),
  );
  const counts = new Array<number>(K).fill(0);
  for (const s of samples) counts[s.label] = (counts[s.label] as number) + 1;
  // Square-root balancing: rare classes count more without letting a handful of samples dominate.
  const classWeight = counts.map((c) => (c > 0 ? Math.sqrt(n / (K * c)) : 0));

  const random = seededRandom(options.seed);
  const gaussian = () =>
    Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const w1 = Array.from({ length: F * Hd }, () => gaussian() * Math.sqrt(2 / F));
  const b1 = new Array<number>(Hd).fill(0);
  const w2 = Array.from({ length: Hd * K }, () => gaussian() * Math.sqrt(1 / Hd));
  const b2 = new Array<number>(K).fill(0);
  const params = [w1, b1, w2, b2];
  const m = params.map((p) => new Array<number>(p.length).fill(0));
  const v = params.map((p) => new Array<number>(p.length).fill(0));
  const beta1 = 0.9;
  const beta2 = 0.999;

  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const grads = params.map((p) => new Array<number>(p.length).fill(0));
    const [gw1, gb1, gw2, gb2] = grads as [number[], number[], number[], number[]];
    let totalWeight = 0;
    samples.forEach((s, i) => {
      const xi = x[i] as number[];
      const h = new Array<number>(Hd);
      for (let k = 0; k < Hd; k++) {
        let z = b1[k] as number;
        for (let j = 0; j < F; j++) z += (xi[j] as number) * (w1[j * Hd + k] as number);
        h[k] = Math.max(0, z);
      }
      const logits = new Array<number>(K);
      for (let c = 0; c < K; c++) {
        let z = b2[c] as number;
        for (let k = 0; k < Hd; k++) z += (h[k] as number) * (w2[k * K + c] as number);
        logits[c] = z;
      }
      const max = Math.max(...logits);
      const exps = logits.map((z) => Math.exp(z - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      const weight = classWeight[s.label] as number;
      totalWeight += weight;
      const dLogits = exps.map((e, c) => weight * (e / sum - (c === s.label ? 1 : 0)));
      const dh = new Array<number>(Hd).fill(0);
      for (let c = 0; c < K; c++) {
        const d = dLogits[c] as number;
        gb2[c] = (gb2[c] as number) + d;
        for (let k = 0; k < Hd; k++) {
          gw2[k * K + c] = (gw2[k * K + c] as number) + (h[k] as number) * d;
          dh[k] = (dh[k] as number) + (w2[k * K + c] as number) * d;
        }
      }
      for (let k = 0; k < Hd; k++) {
        if ((h[k] as number) <= 0) continue;
        const d = dh[k] as number;
        gb1[k] = (gb1[k] as number) + d;
        for (let j = 0; j < F; j++)
          gw1[j * Hd + k] = (gw1[j * Hd + k] as number) + (xi[j] as number) * d;
      }
    });
    params.forEach((p, pi) => {
      const g = grads[pi] as number[];
      const mp = m[pi] as number[];
      const vp = v[pi] as number[];
      const decay = pi === 0 || pi === 2 ? options.l2 : 0;
      for (let q = 0; q < p.length; q++) {
        const grad = (g[q] as number) / totalWeight + decay * (p[q] as number);
        mp[q] = beta1 * (mp[q] as number) + (1 - beta1) * grad;
        vp[q] = beta2 * (vp[q] as number) + (1 - beta2) * grad * grad;
        const mHat = (mp[q] as number) / (1 - beta1 ** epoch);
        const vHat = (vp[q] as number) / (1 - beta2 ** epoch);
        p[q] = (p[q] as number) - (options.learningRate * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
    });
  }
  const rows = (flat: number[], r: number, c: number) =>
    Array.from({ length: r }, (_, i) => flat.slice(i * c, (i + 1) * c));
  return {
    mean,
    scale,
    layers: [
      { weights: rows(w1, F, Hd), bias: b1 },
      { weights: rows(w2, Hd, K), bias: b2 },
    ],
  };
}

/** How the stage's decisions compare with the detector's own labels, false alarms included. */
export function compareDecisions(
  predictions: ReadonlyArray<{ sample: Sample; probabilities: number[] }>,
  policy: StagePolicy = DEFAULT_STAGE_POLICY,
) {
  let real = 0;
  let detectorCorrect = 0;
  let stageCorrect = 0;
  let realDropped = 0;
  // Where the stage and the detector disagree, who was right.
  let stageFixed = 0;
  let stageBroke = 0;
  let falseAlarms = 0;
  let falseAlarmsDropped = 0;
  for (const { sample, probabilities } of predictions) {
    const truth = STAGE_CLASSES[sample.label] as StageClass;
    const decision = decideStage(probabilities, sample.detectorClass, policy);
    if (truth === "false_alarm") {
      falseAlarms++;
      if (decision.drop) falseAlarmsDropped++;
      continue;
    }
    real++;
    if (sample.detectorClass === truth) detectorCorrect++;
    if (decision.drop) {
      realDropped++;
      continue;
    }
    if (decision.class === truth) stageCorrect++;
    if (decision.class !== sample.detectorClass) {
      if (decision.class === truth) stageFixed++;
      else if (sample.detectorClass === truth) stageBroke++;
    }
  }
  const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10000) / 10000 : 0);
  return {
    realDetections: real,
    detectorClassAccuracy: ratio(detectorCorrect, real),
    stageClassAccuracy: ratio(stageCorrect, real),
    realDropped,
    stageFixed,
    stageBroke,
    falseAlarms,
    falseAlarmsDropped,
  };
}

/** Out-of-fold probabilities: each wafer's detections scored by weights trained without it. */
export function crossValidate(samples: Sample[], options: TrainOptions, folds = 5) {
  // Folds by a hash of the wafer, so wafers rich in false alarms do not all land in one fold.
  const foldOf = (s: Sample) => Math.imul(s.wafer + 1, 2654435761) >>> 0;
  const predictions: Array<{ sample: Sample; probabilities: number[] }> = [];
  for (let fold = 0; fold < folds; fold++) {
    const inFold = (s: Sample) => foldOf(s) % folds === fold;
    const weights = trainClassifier(
      samples.filter((s) => !inFold(s)),
      options,
    );
    for (const sample of samples.filter(inFold)) {
      predictions.push({ sample, probabilities: forwardClassifier(weights, sample.features) });
    }
  }
  return predictions;
}

export async function buildModel(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      wafers: { type: "string", default: "400" },
      seed: { type: "string", default: "20261126" },
      out: { type: "string", default: DEFAULT_OUT },
      hidden: { type: "string", default: "32" },
      epochs: { type: "string", default: "2000" },
      /** Reuse (or write) the detections, to try training settings without re-detecting. */
      samples: { type: "string" },
    },
    strict: true,
  });
  const wafers = Number(values.wafers);
  const seed = Number(values.seed);
  if (!Number.isInteger(wafers) || wafers < 8)
    throw new RangeError(`--wafers must be an integer >= 8, got ${values.wafers}`);
  if (!Number.isInteger(seed))
    throw new RangeError(`--seed must be an integer, got ${values.seed}`);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const samples = await loadOrCollectSamples(values.samples, seed, wafers, log);
  const counts = Object.fromEntries(
    STAGE_CLASSES.map((c, i) => [c, samples.filter((s) => s.label === i).length]),
  );
  log(`  ${samples.length} detections: ${JSON.stringify(counts)}`);
  const options: TrainOptions = {
    hidden: Number(values.hidden),
    epochs: Number(values.epochs),
    learningRate: 0.01,
    l2: 1e-3,
    seed,
  };
  const report = compareDecisions(crossValidate(samples, options));
  log(`  5-fold cross-validation by wafer: ${JSON.stringify(report)}`);
  // The shipped weights see every wafer; the cross-validated figures describe their quality.
  const weights = trainClassifier(samples, options);
  const doc = `waferflow second-stage defect classifier ${MODEL_VERSION}: features ${FEATURE_SET} (${FEATURE_NAMES.join(", ")}) -> softmax over ${STAGE_CLASSES.join(", ")}. Trained by scripts/build-onnx-model.ts on the output of detector ${DETECTOR_VERSION} on ${wafers} synthetic wafers, seed ${seed}. Cross-validated: ${JSON.stringify(report)}`;
  const bytes = encodeClassifierOnnx(weights, {
    version: MODEL_VERSION,
    featureSet: FEATURE_SET,
    docString: doc,
    detectorVersion: DETECTOR_VERSION,
  });
  const out = resolve(values.out);
  await writeFile(out, bytes);
  log(`build-onnx-model: wrote ${out} (${bytes.length} bytes)`);
  return 0;
}

if (
  import.meta.url === `file://${process.argv[1]}` ||
  process.argv[1]?.endsWith("build-onnx-model.ts")
) {
  buildModel(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`build-onnx-model: ${(error as Error).stack ?? error}`);
      process.exitCode = 1;
    },
  );
}
