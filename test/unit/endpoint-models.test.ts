// Unit tests of the model plugins: spec parsing, feature extraction, the ONNX writer round trip and the ONNX second stage.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, it } from "vitest";
import { DETECTOR_VERSION } from "../../endpoint/detector/version.ts";
import { ModelLoadError, ModelSpecError } from "../../endpoint/errors.ts";
import {
  type ClassifierWeights,
  decideStage,
  encodeClassifierOnnx,
  forwardClassifier,
  STAGE_CLASSES,
} from "../../endpoint/models/classifier-graph.ts";
import {
  defectFeatures,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_SET,
} from "../../endpoint/models/features.ts";
import { createModel, modelFromEnv, parseModelSpec } from "../../endpoint/models/index.ts";
import type { DetectionResult } from "../../endpoint/models/model.ts";
import { readOnnxMetadata } from "../../endpoint/models/onnx-proto.ts";
import { createOnnxRefinementStage } from "../../endpoint/models/onnx-stage.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";
import { DEFECT_CLASSES } from "../../schemas/common.ts";
import type { Defect, Wafer } from "../../schemas/detection.ts";

const SIDE = 512;
const CENTER = 256;
const RADIUS = 230;
const LEVEL = 120;

const feature = (values: Float32Array, name: (typeof FEATURE_NAMES)[number]) =>
  values[FEATURE_NAMES.indexOf(name)] as number;

/** A flat 8-bit wafer with a little seeded noise, drawn on by `paint`. */
function waferImage(paint: (x: number, y: number) => number): GrayImage {
  const random = seededRandom(7);
  const data = new Uint8Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const onWafer = (x - CENTER) ** 2 + (y - CENTER) ** 2 < RADIUS ** 2;
      const noise = (random() - 0.5) * 4;
      data[y * SIDE + x] = Math.max(
        0,
        Math.min(255, Math.round((onWafer ? LEVEL : 20) + noise + paint(x, y))),
      );
    }
  }
  return { width: SIDE, height: SIDE, bitDepth: 8, data };
}

const WAFER: Wafer = {
  imageWidth: SIDE,
  imageHeight: SIDE,
  centerPx: { x: CENTER, y: CENTER },
  radiusPx: RADIUS,
  diameterMm: 300,
  mmPerPx: 300 / (2 * RADIUS),
  notchAngleDeg: 90,
  notchSource: "metadata",
  surface: "bare",
  diePitchPx: null,
  noiseSigma: 1.2 / 255,
  waferLevel: LEVEL / 255,
};

function defectAt(bbox: Defect["bbox"], cls: Defect["class"] = "unknown", score = 0.8): Defect {
  return {
    class: cls,
    score,
    bbox,
    centroidPx: { x: bbox.x + bbox.width / 2, y: bbox.y + bbox.height / 2 },
    areaPx: bbox.width * bbox.height * 0.6,
    waferMm: { x: 0, y: 0 },
    die: null,
  };
}

describe("parseModelSpec and modelFromEnv", () => {
  let dir: string;
  let onnxPath: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "waferflow-spec-"));
    onnxPath = join(dir, "m.onnx");
    await writeFile(onnxPath, "placeholder");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the three kinds of spec", () => {
    assert.deepEqual(parseModelSpec("classical"), { kind: "classical" });
    assert.deepEqual(parseModelSpec(""), { kind: "classical" });
    assert.deepEqual(parseModelSpec(`classical+onnx:${onnxPath}`), {
      kind: "classical+onnx",
      onnxPath,
    });
    assert.deepEqual(parseModelSpec(`onnx:${onnxPath}`), { kind: "onnx", onnxPath });
  });

  it("refuses unknown specs and missing files by name", () => {
    assert.throws(
      () => parseModelSpec("yolo"),
      (e: unknown) => e instanceof ModelSpecError && /unknown model spec 'yolo'/.test(e.message),
    );
    assert.throws(() => parseModelSpec("onnx:"), /names no ONNX file/);
    assert.throws(
      () => parseModelSpec(`onnx:${join(dir, "absent.onnx")}`),
      /absent\.onnx does not exist/,
    );
    assert.throws(() => parseModelSpec(`classical+onnx:${dir}`), /is not a file/);
  });

  it("defaults to the classical model and names WAFERFLOW_MODEL when it is wrong", () => {
    assert.equal(modelFromEnv({}).info.name, "waferflow-classical");
    assert.throws(
      () => modelFromEnv({ WAFERFLOW_MODEL: "onnx:/nowhere.onnx" }),
      /WAFERFLOW_MODEL: .*does not exist/,
    );
  });

  it("names a chain after both of its models", () => {
    assert.equal(createModel(`classical+onnx:${onnxPath}`).info.name, "waferflow-classical+onnx-m");
  });
});

describe("defectFeatures", () => {
  const sharpVoid = waferImage((x, y) => ((x - 200) ** 2 + (y - 220) ** 2 < 12 ** 2 ? -40 : 0));
  const softStain = waferImage(
    (x, y) => 30 * Math.exp(-((x - 300) ** 2 + (y - 300) ** 2) / (2 * 14 ** 2)),
  );
  const scratch = waferImage((x, y) => (Math.abs(y - 150) <= 1 && x >= 150 && x < 330 ? 35 : 0));
  const voidFeatures = defectFeatures(
    sharpVoid,
    WAFER,
    defectAt({ x: 187, y: 207, width: 27, height: 27 }, "void"),
  );
  const stainFeatures = defectFeatures(
    softStain,
    WAFER,
    defectAt({ x: 262, y: 262, width: 77, height: 77 }, "stain"),
  );
  const scratchFeatures = defectFeatures(
    scratch,
    WAFER,
    defectAt({ x: 149, y: 148, width: 182, height: 5 }, "scratch"),
  );

  it("gives FEATURE_COUNT finite numbers", () => {
    assert.equal(FEATURE_COUNT, FEATURE_NAMES.length);
    for (const values of [voidFeatures, stainFeatures, scratchFeatures]) {
      assert.equal(values.length, FEATURE_COUNT);
      assert.ok(values.every(Number.isFinite));
    }
  });

  it("reads the polarity of dark and bright defects", () => {
    assert.equal(feature(voidFeatures, "polarity"), -1);
    assert.equal(feature(stainFeatures, "polarity"), 1);
  });

  it("sees a scratch as elongated and a void as round", () => {
    assert.ok(
      feature(scratchFeatures, "log_elongation") > 2.5,
      `scratch ${feature(scratchFeatures, "log_elongation")}`,
    );
    assert.ok(
      feature(voidFeatures, "log_elongation") < 0.2,
      `void ${feature(voidFeatures, "log_elongation")}`,
    );
    assert.ok(feature(scratchFeatures, "log_bbox_aspect") > 3);
  });

  it("sees a sharp rim on the void and a soft one on the stain", () => {
    const voidRim = feature(voidFeatures, "rim_sharpness");
    const stainRim = feature(stainFeatures, "rim_sharpness");
    assert.ok(voidRim > 3 * stainRim, `void ${voidRim} vs stain ${stainRim}`);
    assert.ok(feature(voidFeatures, "flatness") > feature(stainFeatures, "flatness"));
  });

  it("finds most of a void in its core and little of a soft stain", () => {
    const voidCore = feature(voidFeatures, "core_fraction");
    const stainCore = feature(stainFeatures, "core_fraction");
    assert.ok(voidCore > 0.7, `void core ${voidCore}`);
    assert.ok(stainCore < 0.45, `stain core ${stainCore}`);
  });

  it("sees a round void as compact and a thin scratch as far from it", () => {
    const voidCompactness = feature(voidFeatures, "log_compactness");
    assert.ok(Math.abs(voidCompactness) < 0.5, `void ${voidCompactness}`);
    assert.ok(feature(scratchFeatures, "log_compactness") > voidCompactness + 1);
  });

  it("measures contrast against the noise and the wafer level", () => {
    // 40 grey levels on a noise sigma of 1.2: log1p(40 / 1.2) ~ 3.5.
    assert.ok(Math.abs(feature(voidFeatures, "log1p_snr") - Math.log1p(40 / 1.2)) < 0.3);
    assert.ok(Math.abs(feature(voidFeatures, "relative_contrast") - 40 / LEVEL) < 0.05);
  });

  it("places the defect on the wafer and carries the detector's class and score", () => {
    const expectedRadial = Math.hypot(200.5 - CENTER, 220.5 - CENTER) / RADIUS;
    assert.ok(Math.abs(feature(voidFeatures, "radial_position") - expectedRadial) < 1e-3);
    assert.equal(feature(voidFeatures, "detector_is_void"), 1);
    assert.equal(feature(voidFeatures, "detector_is_stain"), 0);
    assert.ok(Math.abs(feature(voidFeatures, "detector_score") - 0.8) < 1e-6);
  });
});

/** Seeded random weights of the given widths. */
function randomWeights(widths: number[], seed: number): ClassifierWeights {
  const random = seededRandom(seed);
  const first = widths[0] as number;
  return {
    mean: Array.from({ length: first }, () => random() * 4 - 2),
    scale: Array.from({ length: first }, () => 0.5 + random() * 2),
    layers: widths.slice(1).map((out, i) => ({
      weights: Array.from({ length: widths[i] as number }, () =>
        Array.from({ length: out }, () => random() * 2 - 1),
      ),
      bias: Array.from({ length: out }, () => random() - 0.5),
    })),
  };
}

describe("encodeClassifierOnnx", () => {
  it("writes a model onnxruntime runs to the same probabilities as the JS forward pass", async () => {
    for (const widths of [
      [FEATURE_COUNT, STAGE_CLASSES.length],
      [FEATURE_COUNT, 12, STAGE_CLASSES.length],
      [FEATURE_COUNT, 8, 7, STAGE_CLASSES.length],
    ]) {
      const weights = randomWeights(widths, widths.length * 31);
      const bytes = encodeClassifierOnnx(weights, { version: "9.9.9", featureSet: FEATURE_SET });
      const session = await ort.InferenceSession.create(bytes);
      try {
        assert.deepEqual(session.inputNames, ["features"]);
        assert.deepEqual(session.outputNames, ["probabilities"]);
        const random = seededRandom(99);
        const rows = 5;
        const input = Float32Array.from({ length: rows * FEATURE_COUNT }, () => random() * 6 - 3);
        const out = await session.run({
          features: new ort.Tensor("float32", input, [rows, FEATURE_COUNT]),
        });
        const probabilities = out.probabilities;
        assert.ok(probabilities);
        assert.deepEqual(probabilities.dims, [rows, STAGE_CLASSES.length]);
        for (let r = 0; r < rows; r++) {
          const expected = forwardClassifier(
            weights,
            input.subarray(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT),
          );
          expected.forEach((p, c) => {
            const got = probabilities.data[r * STAGE_CLASSES.length + c] as number;
            assert.ok(Math.abs(got - p) < 1e-5, `row ${r} class ${c}: onnx ${got}, js ${p}`);
          });
        }
      } finally {
        await session.release();
      }
    }
  });

  it("records the feature set, classes and version as metadata", () => {
    const bytes = encodeClassifierOnnx(randomWeights([FEATURE_COUNT, 6], 3), {
      version: "2.0.0",
      featureSet: FEATURE_SET,
    });
    assert.deepEqual(readOnnxMetadata(bytes), {
      "waferflow.feature_set": FEATURE_SET,
      "waferflow.classes": STAGE_CLASSES.join(","),
      "waferflow.model_version": "2.0.0",
    });
  });

  it("refuses weights whose shapes do not chain", () => {
    const weights = randomWeights([FEATURE_COUNT, 5, 6], 4);
    const broken = {
      ...weights,
      layers: [weights.layers[0], { ...weights.layers[1], bias: [0, 0, 0] }],
    } as ClassifierWeights;
    assert.throws(
      () => encodeClassifierOnnx(broken, { version: "x", featureSet: FEATURE_SET }),
      /columns|outputs/,
    );
    assert.throws(
      () =>
        encodeClassifierOnnx(randomWeights([FEATURE_COUNT, 4], 5), {
          version: "x",
          featureSet: FEATURE_SET,
        }),
      /last layer gives 4 outputs, expected 6/,
    );
  });
});

/**
 * Hand-set softmax regression that reads only the detector's one-hot class: particle → void
 * (p ~ 0.9), unknown → false_alarm, everything else keeps its class.
 */
function relabellingWeights(): ClassifierWeights {
  const mean = new Array<number>(FEATURE_COUNT).fill(0);
  const scale = new Array<number>(FEATURE_COUNT).fill(1);
  const weights = Array.from({ length: FEATURE_COUNT }, () =>
    new Array<number>(STAGE_CLASSES.length).fill(0),
  );
  const target: Record<string, string> = { particle: "void", unknown: "false_alarm" };
  for (const cls of DEFECT_CLASSES) {
    const row = weights[FEATURE_NAMES.indexOf(`detector_is_${cls}`)] as number[];
    row[STAGE_CLASSES.indexOf((target[cls] ?? cls) as (typeof STAGE_CLASSES)[number])] = 4;
  }
  return {
    mean,
    scale,
    layers: [{ weights, bias: new Array<number>(STAGE_CLASSES.length).fill(0) }],
  };
}

describe("ONNX second stage", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "waferflow-stage-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const image = waferImage(() => 0);
  const result = (): DetectionResult => ({
    wafer: WAFER,
    defects: [
      defectAt({ x: 100, y: 100, width: 10, height: 10 }, "particle"),
      defectAt({ x: 200, y: 300, width: 40, height: 4 }, "scratch"),
      defectAt({ x: 300, y: 200, width: 20, height: 20 }, "unknown"),
    ],
    timingMs: { total: 1 },
  });

  it("relabels, rescores from the probabilities and drops false alarms", async () => {
    const path = join(dir, "relabel.onnx");
    await writeFile(
      path,
      encodeClassifierOnnx(relabellingWeights(), { version: "1.2.3", featureSet: FEATURE_SET }),
    );
    const stage = createOnnxRefinementStage(path);
    await stage.load();
    assert.deepEqual(stage.info, { name: "onnx-relabel", version: "1.2.3" });
    const refined = await stage.refine(image, result());
    assert.deepEqual(
      refined.defects.map((d) => d.class),
      ["void", "scratch"],
    );
    // softmax of (4, 0, 0, 0, 0, 0) gives e^4 / (e^4 + 5).
    const expected = Math.exp(4) / (Math.exp(4) + 5);
    for (const defect of refined.defects) assert.ok(Math.abs(defect.score - expected) < 1e-5);
    assert.deepEqual(refined.defects[0]?.bbox, { x: 100, y: 100, width: 10, height: 10 });
    assert.equal(typeof refined.timingMs.onnx, "number");
    assert.equal(refined.timingMs.total, 1);
  });

  it("keeps a likely false alarm when the drop confidence is higher than its probability", async () => {
    const path = join(dir, "relabel-keep.onnx");
    await writeFile(
      path,
      encodeClassifierOnnx(relabellingWeights(), { version: "1", featureSet: FEATURE_SET }),
    );
    const stage = createOnnxRefinementStage(path, { dropFalseAlarmAt: 0.99 });
    await stage.load();
    const refined = await stage.refine(image, result());
    assert.equal(refined.defects.length, 3);
    // Kept, it carries its most likely real class and that class's (low) probability.
    assert.ok((refined.defects[2]?.score ?? 1) < 0.1);
  });

  it("refuses at load a model trained on other features, or with the wrong inputs, outputs or bytes", async () => {
    const cases: Array<[string, Uint8Array | string, RegExp]> = [
      [
        "other-features.onnx",
        encodeClassifierOnnx(relabellingWeights(), { version: "1", featureSet: "someone-else-v7" }),
        /trained on features 'someone-else-v7'/,
      ],
      [
        "narrow.onnx",
        encodeClassifierOnnx(randomWeights([3, 6], 1), { version: "1", featureSet: "unchecked" }),
        /trained on features 'unchecked'/,
      ],
      ["garbage.onnx", "definitely not protobuf", /not an ONNX model|onnxruntime cannot load/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = join(dir, name);
      await writeFile(path, bytes);
      await assert.rejects(
        createOnnxRefinementStage(path).load(),
        (e: unknown) => e instanceof ModelLoadError && message.test(e.message),
        name,
      );
    }
  });

  it("refuses a model whose input width is not the feature count", async () => {
    const path = join(dir, "narrow-no-meta.onnx");
    const bytes = encodeClassifierOnnx(randomWeights([3, 6], 1), {
      version: "1",
      featureSet: FEATURE_SET,
    });
    await writeFile(path, bytes);
    await assert.rejects(
      createOnnxRefinementStage(path).load(),
      (e: unknown) =>
        e instanceof ModelLoadError &&
        /must take one float32 input \[N, \d+\].*takes 'features' float32 \[N, 3\]/.test(e.message),
    );
  });
});

describe("decideStage", () => {
  const probs = (values: Partial<Record<(typeof STAGE_CLASSES)[number], number>>) =>
    STAGE_CLASSES.map((c) => values[c] ?? 0);

  it("drops a detection whose most likely class is false_alarm at the drop confidence", () => {
    assert.deepEqual(decideStage(probs({ false_alarm: 0.75, void: 0.25 }), "void"), { drop: true });
    assert.deepEqual(
      decideStage(probs({ false_alarm: 0.75, void: 0.25 }), "void", {
        dropFalseAlarmAt: 0.8,
        relabelAt: 0.8,
      }),
      {
        drop: false,
        class: "void",
        score: 0.25,
      },
    );
  });

  it("relabels only when confident, and keeps the detector's class (rescored) otherwise", () => {
    assert.deepEqual(decideStage(probs({ stain: 0.85, void: 0.15 }), "void"), {
      drop: false,
      class: "stain",
      score: 0.85,
    });
    const unsure = decideStage(probs({ stain: 0.55, void: 0.45 }), "void");
    assert.equal(unsure.drop, false);
    assert.equal(unsure.drop === false && unsure.class, "void");
    assert.ok(unsure.drop === false && Math.abs(unsure.score - 0.45) < 1e-12);
  });

  it("always relabels a detection the detector called unknown", () => {
    assert.deepEqual(
      decideStage(probs({ scratch: 0.4, particle: 0.3, false_alarm: 0.3 }), "unknown"),
      {
        drop: false,
        class: "scratch",
        score: 0.4,
      },
    );
  });
});

describe("second stage and detector version", () => {
  it("refuses a stage trained on another detector version, naming both", async () => {
    const dir = await mkdtemp(join(tmpdir(), "waferflow-stage-version-"));
    try {
      const path = join(dir, "old.onnx");
      await writeFile(
        path,
        encodeClassifierOnnx(randomWeights([FEATURE_COUNT, 6], 2), {
          version: "1",
          featureSet: FEATURE_SET,
          detectorVersion: "1.0.0+000000000000",
        }),
      );
      await assert.rejects(
        createOnnxRefinementStage(path).load(),
        (e: unknown) =>
          e instanceof ModelLoadError &&
          e.message.includes("detector 1.0.0+000000000000") &&
          e.message.includes(DETECTOR_VERSION),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the shipped second stage was trained on this detector (retrain after a threshold change)", async () => {
    const bytes = await readFile(
      join(import.meta.dirname, "../../endpoint/models/wafer-classifier.onnx"),
    );
    assert.equal(readOnnxMetadata(bytes)["waferflow.detector_version"], DETECTOR_VERSION);
  });
});
