// DetectDefects stores the overlay the endpoint drew on the raster it decoded: it never reads, decodes or encodes an image for it.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { beforeAll, describe, it } from "vitest";
import { renderOverlayPicture } from "../../endpoint/overlay.ts";
import { detectDefects } from "../../functions/detect-defects/core.ts";
import { ModelResponseError } from "../../functions/errors.ts";
import { decodeGray } from "../../lib/gray-image.ts";
import { lotKeys } from "../../lib/keys.ts";
import type { InvocationResponse } from "../../schemas/detection.ts";
import { TruthSchema } from "../../schemas/truth.ts";
import type { DetectInput } from "../../schemas/workflow.ts";

const FIXTURES = resolve(import.meta.dirname, "../fixtures/lot-e2e");
const truth = TruthSchema.parse(JSON.parse(readFileSync(resolve(FIXTURES, "truth.json"), "utf8")));
const wafer = truth.wafers.find((w) => w.defects.length > 0 && w.fileName.endsWith(".png"));
if (!wafer) throw new Error("the e2e fixture lot has no PNG wafer with defects");
const bytes = readFileSync(resolve(FIXTURES, wafer.fileName));

/** What the endpoint answers for this wafer: its true defects, with or without an overlay. */
function answer(overlay: InvocationResponse["overlay"]): InvocationResponse {
  return {
    status: "inspected",
    model: { name: "waferflow-classical", version: "test" },
    wafer: {
      imageWidth: wafer?.width ?? 0,
      imageHeight: wafer?.height ?? 0,
      centerPx: wafer?.centerPx ?? { x: 0, y: 0 },
      radiusPx: wafer?.radiusPx ?? 1,
      diameterMm: 300,
      mmPerPx: 300 / 2 / (wafer?.radiusPx ?? 1),
      notchAngleDeg: wafer?.notchAngleDeg ?? 90,
      notchSource: "detected",
      surface: "bare",
      diePitchPx: null,
      noiseSigma: 0.01,
      waferLevel: 0.5,
    },
    defects: (wafer?.defects ?? []).map((d) => ({
      class: d.class,
      score: 0.9,
      bbox: d.bbox,
      centroidPx: d.centroidPx,
      areaPx: d.bbox.width * d.bbox.height,
      waferMm: d.waferMm,
      die: null,
    })),
    ...(overlay ? { overlay } : {}),
  };
}

function run(response: InvocationResponse, inlineMaxBytes: number) {
  const stored = new Map<string, unknown>();
  const reads: string[] = [];
  let attributes: unknown;
  const s3 = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      if (command.constructor.name === "GetObjectCommand") {
        reads.push(String(command.input.Key));
        return { Body: { transformToByteArray: async () => new Uint8Array(bytes) } };
      }
      stored.set(String(command.input.Key), command.input.Body);
      return {};
    },
  } as unknown as S3Client;
  const sagemaker = {
    send: async (command: { input: Record<string, unknown> }) => {
      attributes = command.input.CustomAttributes;
      return { Body: new TextEncoder().encode(JSON.stringify(response)) };
    },
  } as unknown as SageMakerRuntimeClient;
  const input: DetectInput = {
    lotId: "LOT-OV1",
    index: 0,
    metadata: {},
    image: {
      fileName: wafer?.fileName ?? "",
      key: `lots/LOT-OV1/images/${wafer?.fileName}`,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      bytes: bytes.length,
      contentType: "image/png",
    },
    preprocessed: {
      format: "png",
      width: wafer?.width ?? 0,
      height: wafer?.height ?? 0,
      bitDepth: 8,
      bytes: bytes.length,
    },
  };
  const outcome = detectDefects(input, {
    s3,
    sagemaker,
    bucket: "b",
    endpointName: "e",
    inlineMaxBytes,
  });
  return { outcome, stored, reads, attributes: () => attributes };
}

describe("detectDefects and the overlay", () => {
  let overlay: NonNullable<InvocationResponse["overlay"]>;
  beforeAll(async () => {
    const response = answer(undefined);
    overlay = await renderOverlayPicture({
      image: await decodeGray(bytes),
      wafer: response.wafer,
      defects: response.defects,
      maxSide: 1024,
    });
  });

  it("asks for the overlay and stores the endpoint's bytes as they come; an image sent by reference is never read", async () => {
    // inlineMaxBytes 1: the image goes by S3 reference, so any GetObject would be for the picture.
    const call = run(answer(overlay), 1);
    assert.deepEqual(await call.outcome, {
      index: 0,
      status: "defects_found",
      defectCount: wafer.defects.length,
    });
    assert.match(String(call.attributes()), /(^|;)overlay_px=1024(;|$)/);
    assert.doesNotMatch(String(call.attributes()), /preview_px/);
    assert.deepEqual(call.reads, [], "the original is not read again for its picture");
    const stored = call.stored.get(lotKeys.overlay("LOT-OV1", wafer.fileName));
    assert.ok(stored instanceof Uint8Array);
    assert.deepEqual(Buffer.from(stored), Buffer.from(overlay.data, "base64"));
  });

  it("fails the image, naming the overlay, when the endpoint answers without one", async () => {
    const call = run(answer(undefined), 1);
    await assert.rejects(
      call.outcome,
      (error: unknown) =>
        error instanceof ModelResponseError && /overlay_px=1024/.test(error.message),
    );
  });

  it("fails the image and stores nothing under the overlay's name when the overlay is not a WebP file", async () => {
    const call = run(answer({ ...overlay, data: bytes.subarray(0, 4096).toString("base64") }), 1);
    await assert.rejects(
      call.outcome,
      (error: unknown) =>
        error instanceof ModelResponseError &&
        error.message.includes(`overlay of ${wafer.fileName} is not a WebP file`),
    );
    assert.equal(call.stored.get(lotKeys.overlay("LOT-OV1", wafer.fileName)), undefined);
  });
});
