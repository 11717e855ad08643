// The detect function maps the endpoint's `unusable` answer to an unusable image result with its reasons, never clean.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { describe, it } from "vitest";
import { detectDefects } from "../../functions/detect-defects/core.ts";
import { buildReport } from "../../functions/lot-report.ts";
import { lotKeys } from "../../lib/keys.ts";
import type { UnusableResponse } from "../../schemas/detection.ts";
import { ImageResultSchema } from "../../schemas/report.ts";
import type { DetectInput } from "../../schemas/workflow.ts";

const unusable: UnusableResponse = {
  status: "unusable",
  model: { name: "waferflow-classical", version: "1.0.0" },
  quality: {
    noiseSigma: 0.2,
    blurSigmaPx2048: null,
    saturatedFraction: 0,
    blackFraction: 0,
    chuckContrast: 0.05,
    rimResidual: null,
    diameterFraction: null,
    centreOffsetFraction: null,
    waferInterior: null,
    hotPixelsRemoved: 0,
    reasons: [
      {
        measure: "noiseSigma",
        value: 0.2,
        limit: 0.03,
        unit: "fraction of full scale",
        message: "sensor noise sigma 20.00% of full scale, the spec allows 1.5%",
      },
    ],
  },
  defects: [],
};

const bytes = new Uint8Array([1, 2, 3]);
const input: DetectInput = {
  lotId: "LOT-Q1",
  index: 0,
  metadata: {},
  image: {
    fileName: "wafer-001.png",
    key: "lots/LOT-Q1/images/wafer-001.png",
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
    contentType: "image/png",
  },
  preprocessed: { format: "png", width: 1024, height: 1024, bitDepth: 8, bytes: bytes.length },
};

describe("detectDefects with an unusable image", () => {
  it("stores an `unusable` result with the gate's reasons and returns an unusable outcome", async () => {
    const stored = new Map<string, string>();
    const s3 = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        if (command.constructor.name === "GetObjectCommand") {
          return { Body: { transformToByteArray: async () => bytes } };
        }
        stored.set(String(command.input.Key), String(command.input.Body));
        return {};
      },
    } as unknown as S3Client;
    const sagemaker = {
      send: async () => ({ Body: new TextEncoder().encode(JSON.stringify(unusable)) }),
    } as unknown as SageMakerRuntimeClient;
    const outcome = await detectDefects(input, { s3, sagemaker, bucket: "b", endpointName: "e" });
    assert.deepEqual(outcome, { index: 0, status: "unusable", defectCount: 0 });
    const resultKey = lotKeys.result("LOT-Q1", "wafer-001.png");
    const result = ImageResultSchema.parse(JSON.parse(stored.get(resultKey) ?? "null"));
    assert.equal(result.status, "unusable");
    assert.deepEqual(result.defects, []);
    assert.equal(result.quality?.reasons[0]?.measure, "noiseSigma");
    // A lot whose only other wafer is clean is not clean: it is incomplete.
    const report = buildReport({
      lotId: "LOT-Q1",
      images: [result, { fileName: "b.png", key: "k", status: "clean", defects: [] }],
      completedAt: new Date(0),
    });
    assert.equal(report.status, "incomplete");
    assert.equal(report.counts.unusable, 1);
    assert.equal(report.counts.clean, 1);
  });
});
