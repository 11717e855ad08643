// The detect function's own logic: lot metadata as custom attributes, how each image travels to the endpoint.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { mockClient } from "aws-sdk-client-mock";
import { describe, it } from "vitest";
import { customAttributes, endpointRequest } from "../../functions/detect-defects/core.ts";
import { ImageChecksumError } from "../../functions/errors.ts";
import { INLINE_IMAGE_MAX_BYTES } from "../../schemas/detection.ts";
import type { DetectInput } from "../../schemas/workflow.ts";

describe("endpointRequest", () => {
  const s3 = mockClient(S3Client);
  const bytes = Buffer.from("\x89PNG\r\n\x1a\n pretend pixels", "latin1");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const input = (size: number, format: "png" | "tiff", digest = sha256): DetectInput => ({
    lotId: "LOT-1",
    index: 0,
    metadata: {},
    image: {
      fileName: "w.png",
      key: "lots/LOT-1/images/w.png",
      sha256: digest,
      bytes: size,
      contentType: format === "png" ? "image/png" : "image/tiff",
    },
    preprocessed: { format, width: 2048, height: 2048, bitDepth: 16, bytes: size },
  });
  const deps = (inlineMaxBytes?: number) => ({
    s3: new S3Client({ region: "us-east-1" }),
    sagemaker: new SageMakerRuntimeClient({ region: "us-east-1" }),
    bucket: "lot-bucket",
    endpointName: "ep",
    ...(inlineMaxBytes !== undefined ? { inlineMaxBytes } : {}),
  });
  const serve = () => {
    s3.reset();
    s3.on(GetObjectCommand).resolves({
      Body: { transformToByteArray: async () => new Uint8Array(bytes) },
    } as never);
  };

  it("sends the original bytes, with their format's content type, when they fit a request", async () => {
    serve();
    const request = await endpointRequest(input(bytes.length, "tiff"), deps());
    assert.equal(request.kind, "inline");
    assert.equal(request.contentType, "image/tiff");
    assert.deepEqual(Buffer.from(request.body), bytes);
  });

  it("names the image in S3, with its SHA-256, when it is over the request limit", async () => {
    serve();
    const request = await endpointRequest(input(INLINE_IMAGE_MAX_BYTES + 1, "png"), deps());
    assert.equal(request.kind, "reference");
    assert.equal(request.contentType, "application/json");
    assert.deepEqual(JSON.parse(new TextDecoder().decode(request.body)), {
      s3Uri: "s3://lot-bucket/lots/LOT-1/images/w.png",
      sha256,
    });
    assert.equal(s3.commandCalls(GetObjectCommand).length, 0, "the endpoint reads it, not us");
  });

  it("refuses to send bytes that are no longer the manifest's", async () => {
    serve();
    await assert.rejects(
      endpointRequest(input(bytes.length, "png", "f".repeat(64)), deps()),
      ImageChecksumError,
    );
  });
});

describe("customAttributes", () => {
  it("passes notch, diameter and die pitch when the lot gives them", () => {
    assert.equal(
      customAttributes({ notchAngleDeg: 90, waferDiameterMm: 200, diePitchMm: { x: 10, y: 12.5 } }),
      "preview_px=1024;notch_angle_deg=90;wafer_diameter_mm=200;die_pitch_mm=10x12.5",
    );
    assert.equal(customAttributes({ diePitchMm: 8 }), "preview_px=1024;die_pitch_mm=8");
  });
  it("asks only for the overlay's preview when the lot gives nothing", () => {
    assert.equal(customAttributes({ product: "X" }), "preview_px=1024");
  });
});
