// Integration tests of the ONNX model paths through the real server: the shipped second stage, a relabelling stage, a replacement detector.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { afterAll, beforeAll, describe, it } from "vitest";
import { DETECTOR_VERSION } from "../../endpoint/detector/version.ts";
import { ModelLoadError } from "../../endpoint/errors.ts";
import { createClassicalModel } from "../../endpoint/models/classical.ts";
import {
  type ClassifierWeights,
  encodeClassifierOnnx,
  STAGE_CLASSES,
} from "../../endpoint/models/classifier-graph.ts";
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_SET } from "../../endpoint/models/features.ts";
import { createModel } from "../../endpoint/models/index.ts";
import { encodeOnnxModel, TensorDataType } from "../../endpoint/models/onnx-proto.ts";
import { createOnnxRefinementStage } from "../../endpoint/models/onnx-stage.ts";
import { startEndpointServer } from "../../endpoint/server.ts";
import { decodeGray } from "../../lib/gray-image.ts";
import { DEFECT_CLASSES } from "../../schemas/common.ts";
import { type InvocationResponse, InvocationResponseSchema } from "../../schemas/detection.ts";
import { MODEL_VERSION } from "../../scripts/build-onnx-model.ts";
import { generateWafer } from "../../synth/generate.ts";

const SHIPPED_MODEL = "endpoint/models/wafer-classifier.onnx";

async function post(url: string, body: Uint8Array, headers: Record<string, string> = {}) {
  return fetch(`${url}/invocations`, {
    method: "POST",
    body,
    headers: { "content-type": "image/png", ...headers },
  });
}

/** Every detector class goes to `to`, so the response shows whether the stage ran. */
function everythingIs(to: (typeof STAGE_CLASSES)[number]): ClassifierWeights {
  const weights = Array.from({ length: FEATURE_COUNT }, () =>
    new Array<number>(STAGE_CLASSES.length).fill(0),
  );
  for (const cls of DEFECT_CLASSES) {
    const row = weights[FEATURE_NAMES.indexOf(`detector_is_${cls}`)] as number[];
    row[STAGE_CLASSES.indexOf(to)] = 4;
  }
  return {
    mean: new Array<number>(FEATURE_COUNT).fill(0),
    scale: new Array<number>(FEATURE_COUNT).fill(1),
    layers: [{ weights, bias: new Array<number>(STAGE_CLASSES.length).fill(0) }],
  };
}

/**
 * A stand-in replacement detector on a fixed 256 px input: a fixed wafer (or none) and one
 * void box whose score is the brightest input pixel, so the output depends on the image.
 */
function replacementDetector(radius: number): Uint8Array {
  return encodeOnnxModel({
    graphName: "stand_in_detector",
    producerVersion: "test",
    inputs: [{ name: "image", elemType: TensorDataType.FLOAT, shape: [1, 1, 256, 256] }],
    outputs: [
      { name: "wafer", elemType: TensorDataType.FLOAT, shape: [4] },
      { name: "boxes", elemType: TensorDataType.FLOAT, shape: [1, 4] },
      { name: "scores", elemType: TensorDataType.FLOAT, shape: [1] },
      { name: "labels", elemType: TensorDataType.FLOAT, shape: [1] },
    ],
    initializers: [
      { name: "wafer_value", dims: [4], values: [128, 130, radius, 90] },
      { name: "boxes_value", dims: [1, 4], values: [50, 60, 70, 80] },
      { name: "labels_value", dims: [1], values: [DEFECT_CLASSES.indexOf("void")] },
    ],
    nodes: [
      { opType: "Identity", inputs: ["wafer_value"], outputs: ["wafer"] },
      { opType: "Identity", inputs: ["boxes_value"], outputs: ["boxes"] },
      { opType: "Identity", inputs: ["labels_value"], outputs: ["labels"] },
      {
        opType: "ReduceMax",
        inputs: ["image"],
        outputs: ["scores"],
        attributes: [
          { name: "axes", ints: [1, 2, 3] },
          { name: "keepdims", int: 0 },
        ],
      },
    ],
    metadata: { "waferflow.model_version": "0.0.1" },
  });
}

describe("endpoint with ONNX models", () => {
  let dir: string;
  let png: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "waferflow-onnx-it-"));
    png = (await generateWafer(21, 2, { size: 1024, format: "png", clean: false, defectCount: 4 }))
      .bytes;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the shipped classifier after the detector, as the stage alone would refine it", async () => {
    const server = await startEndpointServer({
      port: 0,
      model: createModel(`classical+onnx:${SHIPPED_MODEL}`),
      log: () => {},
    });
    try {
      const response = await post(server.url, png, {
        "x-amzn-sagemaker-custom-attributes": "notch_angle_deg=90",
      });
      assert.equal(response.status, 200);
      const body = InvocationResponseSchema.parse(await response.json());
      assert.equal(body.model.name, "waferflow-classical+onnx-wafer-classifier");
      // The chain's version: the detector's (release + thresholds hash), then the stage's.
      assert.equal(body.model.version, `${DETECTOR_VERSION}+${MODEL_VERSION}`);
      assert.equal(typeof body.timingMs?.onnx, "number");

      const image = await decodeGray(png);
      const detected = await createClassicalModel().detect(image, { notchAngleDeg: 90 });
      const stage = createOnnxRefinementStage(SHIPPED_MODEL);
      await stage.load();
      const expected = await stage.refine(image, detected);
      assert.ok(detected.defects.length > 0, "the detector found nothing to refine");
      assert.deepEqual(
        body.defects.map((d) => [d.class, d.score, d.bbox]),
        expected.defects.map((d) => [d.class, d.score, d.bbox]),
      );
    } finally {
      await server.close();
    }
  });

  it("puts the stage's classes and scores into the response, through the SageMaker client too", async () => {
    const path = join(dir, "all-scratch.onnx");
    await writeFile(
      path,
      encodeClassifierOnnx(everythingIs("scratch"), { version: "7", featureSet: FEATURE_SET }),
    );
    const server = await startEndpointServer({
      port: 0,
      model: createModel(`classical+onnx:${path}`),
      log: () => {},
    });
    const client = new SageMakerRuntimeClient({
      endpoint: server.url,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    try {
      const output = await client.send(
        new InvokeEndpointCommand({ EndpointName: "any", ContentType: "image/png", Body: png }),
      );
      const body: InvocationResponse = InvocationResponseSchema.parse(
        JSON.parse(new TextDecoder().decode(output.Body)),
      );
      assert.equal(body.model.name, "waferflow-classical+onnx-all-scratch");
      assert.ok(body.defects.length > 0);
      const expectedScore = Math.exp(4) / (Math.exp(4) + 5);
      for (const defect of body.defects) {
        assert.equal(defect.class, "scratch");
        assert.ok(Math.abs(defect.score - expectedScore) < 1e-5);
      }
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it("drops every detection a stage calls a false alarm", async () => {
    const path = join(dir, "all-false.onnx");
    await writeFile(
      path,
      encodeClassifierOnnx(everythingIs("false_alarm"), { version: "1", featureSet: FEATURE_SET }),
    );
    const server = await startEndpointServer({
      port: 0,
      model: createModel(`classical+onnx:${path}`),
      log: () => {},
    });
    try {
      const body = InvocationResponseSchema.parse(await (await post(server.url, png)).json());
      assert.deepEqual(body.defects, []);
      assert.ok(body.wafer.radiusPx > 300);
    } finally {
      await server.close();
    }
  });

  it("serves a replacement ONNX detector, scaling its answer to the image", async () => {
    const path = join(dir, "stand-in.onnx");
    await writeFile(path, replacementDetector(115));
    const server = await startEndpointServer({
      port: 0,
      model: createModel(`onnx:${path}`),
      log: () => {},
    });
    try {
      const response = await post(server.url, png, {
        "x-amzn-sagemaker-custom-attributes": "wafer_diameter_mm=200",
      });
      assert.equal(response.status, 200);
      const body = InvocationResponseSchema.parse(await response.json());
      assert.deepEqual(body.model, { name: "onnx-stand-in", version: "0.0.1" });
      // 1024 px image on a 256 px input: everything scales by 4.
      assert.deepEqual(body.wafer.centerPx, { x: 512, y: 520 });
      assert.equal(body.wafer.radiusPx, 460);
      assert.equal(body.wafer.diameterMm, 200);
      assert.equal(body.wafer.notchSource, "detected");
      assert.equal(body.defects.length, 1);
      const defect = body.defects[0];
      assert.equal(defect?.class, "void");
      assert.deepEqual(defect?.bbox, { x: 200, y: 240, width: 80, height: 80 });
      assert.ok((defect?.score ?? 0) > 0.2 && (defect?.score ?? 1) <= 1);
    } finally {
      await server.close();
    }
  });

  it("answers 422 when a replacement detector finds no wafer", async () => {
    const path = join(dir, "no-wafer.onnx");
    await writeFile(path, replacementDetector(0));
    const server = await startEndpointServer({
      port: 0,
      model: createModel(`onnx:${path}`),
      log: () => {},
    });
    try {
      const response = await post(server.url, png);
      assert.equal(response.status, 422);
      assert.equal(
        ((await response.json()) as { error: { name: string } }).error.name,
        "WaferNotFoundError",
      );
    } finally {
      await server.close();
    }
  });

  it("refuses to start with a model in the wrong role, naming the contract it breaks", async () => {
    const detectorPath = join(dir, "detector-as-stage.onnx");
    await writeFile(detectorPath, replacementDetector(100));
    await assert.rejects(
      startEndpointServer({
        port: 0,
        model: createModel(`classical+onnx:${detectorPath}`),
        log: () => {},
      }),
      (e: unknown) =>
        e instanceof ModelLoadError && /must take one float32 input \[N, \d+\]/.test(e.message),
    );
    await assert.rejects(
      startEndpointServer({ port: 0, model: createModel(`onnx:${SHIPPED_MODEL}`), log: () => {} }),
      (e: unknown) =>
        e instanceof ModelLoadError && /must take one float32 image \[1, 1, H, W\]/.test(e.message),
    );
  });

  it("refuses to start when the model its inference threads build fails to load, with the same error", async () => {
    await assert.rejects(
      startEndpointServer({
        port: 0,
        modelSpec: `onnx:${SHIPPED_MODEL}`,
        inferenceThreads: 1,
        log: () => {},
      }),
      (e: unknown) =>
        e instanceof ModelLoadError && /must take one float32 image \[1, 1, H, W\]/.test(e.message),
    );
  });
});
