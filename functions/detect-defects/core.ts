// Sends one preprocessed wafer image to the SageMaker endpoint and stores its defects in original pixels.

import type { S3Client } from "@aws-sdk/client-s3";
import {
  InvokeEndpointCommand,
  type SageMakerRuntimeClient,
} from "@aws-sdk/client-sagemaker-runtime";
import { lotKeys } from "../../lib/keys.ts";
import {
  type Defect,
  EndpointAnswerSchema,
  type InvocationResponse,
  type Wafer,
} from "../../schemas/detection.ts";
import type { LotMetadata } from "../../schemas/lot.ts";
import type { ImageResult } from "../../schemas/report.ts";
import type { DetectInput, ImageOutcome } from "../../schemas/workflow.ts";
import { writeOverlay } from "../artifacts/store.ts";
import {
  dependencyFailure,
  ImageRejectedByModelError,
  ModelResponseError,
  TransientDependencyError,
} from "../errors.ts";
import { getObjectBytes, putJson } from "../runtime.ts";

export interface DetectDeps {
  s3: S3Client;
  sagemaker: SageMakerRuntimeClient;
  bucket: string;
  endpointName: string;
}

/** Lot metadata as the endpoint's X-Amzn-SageMaker-Custom-Attributes `key=value` pairs. */
export function customAttributes(metadata: LotMetadata): string | undefined {
  const pairs: string[] = [];
  if (metadata.notchAngleDeg !== undefined) pairs.push(`notch_angle_deg=${metadata.notchAngleDeg}`);
  if (metadata.waferDiameterMm !== undefined) {
    pairs.push(`wafer_diameter_mm=${metadata.waferDiameterMm}`);
  }
  if (metadata.diePitchMm !== undefined) {
    const pitch = metadata.diePitchMm;
    pairs.push(`die_pitch_mm=${typeof pitch === "number" ? pitch : `${pitch.x}x${pitch.y}`}`);
  }
  return pairs.length ? pairs.join(";") : undefined;
}

/** Maps what the endpoint found in the reduced image back to the original image's pixels. */
export function toOriginalPixels(
  response: InvocationResponse,
  scale: number,
  original: { width: number; height: number },
): { wafer: Wafer; defects: Defect[] } {
  const up = (v: number) => v / scale;
  const wafer: Wafer = {
    ...response.wafer,
    imageWidth: original.width,
    imageHeight: original.height,
    centerPx: { x: up(response.wafer.centerPx.x), y: up(response.wafer.centerPx.y) },
    radiusPx: up(response.wafer.radiusPx),
    mmPerPx: response.wafer.mmPerPx * scale,
    diePitchPx: response.wafer.diePitchPx
      ? { x: up(response.wafer.diePitchPx.x), y: up(response.wafer.diePitchPx.y) }
      : null,
  };
  const defects = response.defects.map((defect) => {
    const x0 = Math.max(0, Math.floor(up(defect.bbox.x)));
    const y0 = Math.max(0, Math.floor(up(defect.bbox.y)));
    const x1 = Math.min(original.width, Math.ceil(up(defect.bbox.x + defect.bbox.width)));
    const y1 = Math.min(original.height, Math.ceil(up(defect.bbox.y + defect.bbox.height)));
    return {
      ...defect,
      bbox: { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) },
      centroidPx: { x: up(defect.centroidPx.x), y: up(defect.centroidPx.y) },
      areaPx: defect.areaPx / (scale * scale),
    };
  });
  return { wafer, defects };
}

async function invoke(deps: DetectDeps, body: Uint8Array, attributes: string | undefined) {
  try {
    const response = await deps.sagemaker.send(
      new InvokeEndpointCommand({
        EndpointName: deps.endpointName,
        ContentType: "image/png",
        Accept: "application/json",
        Body: body,
        CustomAttributes: attributes,
      }),
    );
    return new TextDecoder().decode(response.Body);
  } catch (error) {
    const e = error as { name?: string; OriginalStatusCode?: number; OriginalMessage?: string };
    if (
      e.name === "ModelError" &&
      e.OriginalStatusCode !== undefined &&
      e.OriginalStatusCode < 500
    ) {
      throw new ImageRejectedByModelError(
        `the model refused the image (${e.OriginalStatusCode}): ${describeModelError(e.OriginalMessage)}`,
        { cause: error },
      );
    }
    if (e.name === "ModelError" || e.name === "ModelNotReadyException") {
      throw new TransientDependencyError(`endpoint ${deps.endpointName} failed: ${e.name}`, {
        cause: error,
      });
    }
    throw dependencyFailure(`invoking endpoint ${deps.endpointName}`, error);
  }
}

function describeModelError(body: string | undefined): string {
  if (!body) return "no message";
  try {
    const parsed = JSON.parse(body) as { error?: { name?: string; message?: string } };
    if (parsed.error?.message) return `${parsed.error.name ?? "Error"}: ${parsed.error.message}`;
  } catch {
    // a plain-text error body is already readable
  }
  return body;
}

export async function detectDefects(input: DetectInput, deps: DetectDeps): Promise<ImageOutcome> {
  const { image, lotId, preprocessed } = input;
  const body = await getObjectBytes(deps.s3, deps.bucket, preprocessed.preprocessedKey);
  const text = await invoke(deps, body, customAttributes(input.metadata));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelResponseError(`endpoint answered non-JSON: ${text.slice(0, 200)}`, { cause });
  }
  const parsed = EndpointAnswerSchema.safeParse(json);
  if (!parsed.success) {
    throw new ModelResponseError(
      `endpoint answer breaks the contract: ${parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join(".")}: ${i.message}`)
        .join("; ")}`,
    );
  }
  if (parsed.data.status === "unusable") {
    // The quality gate refused the image: reported with its reasons, never as clean.
    return storeResult(deps, lotId, input.index, {
      fileName: image.fileName,
      key: image.key,
      status: "unusable",
      width: preprocessed.originalWidth,
      height: preprocessed.originalHeight,
      model: parsed.data.model,
      quality: parsed.data.quality,
      defects: [],
    });
  }
  const { wafer, defects } = toOriginalPixels(parsed.data, preprocessed.scale, {
    width: preprocessed.originalWidth,
    height: preprocessed.originalHeight,
  });
  const status = defects.length > 0 ? "defects_found" : "clean";
  // Drawn here because this function already holds the (reduced) pixels: no second decode of the original.
  const overlayKey = await writeOverlay(deps, lotId, image.fileName, body, parsed.data);
  const result: ImageResult = {
    fileName: image.fileName,
    key: image.key,
    status,
    width: preprocessed.originalWidth,
    height: preprocessed.originalHeight,
    wafer,
    model: parsed.data.model,
    ...(parsed.data.quality ? { quality: parsed.data.quality } : {}),
    defects,
    overlayKey,
  };
  return storeResult(deps, lotId, input.index, result);
}

async function storeResult(
  deps: DetectDeps,
  lotId: string,
  index: number,
  result: ImageResult,
): Promise<ImageOutcome> {
  const status = result.status;
  if (status !== "clean" && status !== "defects_found" && status !== "unusable") {
    throw new RangeError(`an endpoint answer cannot give status '${status}'`);
  }
  const resultKey = lotKeys.result(lotId, result.fileName);
  await putJson(deps.s3, deps.bucket, resultKey, result);
  // Only the index travels on: the report finds the result at lotKeys.result(lotId, fileName).
  return { index, status, defectCount: result.defects.length };
}
