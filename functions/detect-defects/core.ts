// Sends one verified wafer image to the endpoint (an S3 reference it reads and checks, or the original bytes) and stores its defects.
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  InvokeEndpointCommand,
  type SageMakerRuntimeClient,
} from "@aws-sdk/client-sagemaker-runtime";
import { encodeCustomAttributes, hintsFromMetadata } from "../../lib/custom-attributes.ts";
import { lotKeys } from "../../lib/keys.ts";
import { describeZodError } from "../../lib/zod-issues.ts";
import {
  EndpointAnswerSchema,
  IMAGE_REFERENCE_CONTENT_TYPE,
  type ImageReference,
  INLINE_IMAGE_MAX_BYTES,
} from "../../schemas/detection.ts";
import type { LotMetadata } from "../../schemas/lot.ts";
import type { ImageResult } from "../../schemas/report.ts";
import type { DetectInput, ImageOutcome } from "../../schemas/workflow.ts";
import { storeOverlay } from "../artifacts/overlay-store.ts";
import { getObjectBytes, putJson } from "../aws-io.ts";
import {
  dependencyFailure,
  ImageChecksumError,
  ImageRejectedByModelError,
  ModelResponseError,
  TransientDependencyError,
} from "../errors.ts";

export interface DetectDeps {
  s3: S3Client;
  sagemaker: SageMakerRuntimeClient;
  bucket: string;
  endpointName: string;
  /**
   * Images up to this size go inline, larger ones by S3 reference; default 0, every image by
   * reference (DEFAULT_INLINE_MAX_BYTES). Inline is for an endpoint that cannot read the bucket,
   * and can be at most SageMaker's 6 MB (INLINE_IMAGE_MAX_BYTES).
   */
  inlineMaxBytes?: number;
}

/**
 * Every image by S3 reference. The endpoint reads the object once and checks it against the
 * manifest's SHA-256 itself, so this function does not download and hash the image, and its bytes
 * are not signed (one more SHA-256), proxied, checked against the signature (another) and copied
 * to an inference thread on their way to the endpoint (docs/benchmarks.md, "Pipeline"). On AWS it
 * is one GetObject either way, made by the endpoint instead of the Lambda, which no longer holds
 * the image.
 */
export const DEFAULT_INLINE_MAX_BYTES = 0;

/** The operator's overlay: the wafer at about this many pixels on its longer side. */
export const OVERLAY_MAX_SIDE = 1024;

/**
 * Lot metadata as the endpoint's X-Amzn-SageMaker-Custom-Attributes (lib/custom-attributes.ts),
 * with the overlay the endpoint draws on the raster it decoded (so this function never decodes
 * or encodes an image, and the original is decoded once).
 */
export function customAttributes(metadata: LotMetadata): string {
  return (
    encodeCustomAttributes(hintsFromMetadata(metadata), { overlayMaxSide: OVERLAY_MAX_SIDE }) ?? ""
  );
}

/** The request body for one image: its own bytes when they fit a request, else where to read them. */
export type EndpointRequest =
  | { kind: "inline"; contentType: "image/png" | "image/tiff"; body: Uint8Array }
  | { kind: "reference"; contentType: typeof IMAGE_REFERENCE_CONTENT_TYPE; body: Uint8Array };

export function referenceRequest(reference: ImageReference): EndpointRequest {
  return {
    kind: "reference",
    contentType: IMAGE_REFERENCE_CONTENT_TYPE,
    body: new TextEncoder().encode(JSON.stringify(reference)),
  };
}

/**
 * Decides how the endpoint gets the image. A reference carries the manifest's SHA-256, which the
 * endpoint checks the object against; an inline image is read here and checked the same way (the
 * object could have been replaced since PreprocessImage).
 */
export async function endpointRequest(
  input: DetectInput,
  deps: DetectDeps,
): Promise<EndpointRequest> {
  const { image, preprocessed } = input;
  const limit = Math.min(deps.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES, INLINE_IMAGE_MAX_BYTES);
  if (preprocessed.bytes > limit) {
    return referenceRequest({ s3Uri: `s3://${deps.bucket}/${image.key}`, sha256: image.sha256 });
  }
  const body = await getObjectBytes(deps.s3, deps.bucket, image.key);
  const sha256 = createHash("sha256").update(body).digest("hex");
  if (sha256 !== image.sha256) {
    throw new ImageChecksumError(
      `image ${image.fileName} has SHA-256 ${sha256}, the manifest says ${image.sha256}`,
    );
  }
  return {
    kind: "inline",
    contentType: preprocessed.format === "png" ? "image/png" : "image/tiff",
    body,
  };
}

async function invoke(deps: DetectDeps, request: EndpointRequest, attributes: string) {
  try {
    const response = await deps.sagemaker.send(
      new InvokeEndpointCommand({
        EndpointName: deps.endpointName,
        ContentType: request.contentType,
        Accept: "application/json",
        Body: request.body,
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
      const refusal = describeModelError(e.OriginalMessage);
      // The endpoint found the referenced bytes are not the manifest's: the image's checksum
      // failure, as PreprocessImage reported it before it stopped reading whole images.
      if (refusal.startsWith("ImageChecksumError: ")) {
        throw new ImageChecksumError(
          `the endpoint refused the image (${e.OriginalStatusCode}): ${refusal}`,
          { cause: error },
        );
      }
      throw new ImageRejectedByModelError(
        `the model refused the image (${e.OriginalStatusCode}): ${refusal}`,
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
  const request = await endpointRequest(input, deps);
  const text = await invoke(deps, request, customAttributes(input.metadata));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelResponseError(`endpoint answered non-JSON: ${text.slice(0, 200)}`, { cause });
  }
  const parsed = EndpointAnswerSchema.safeParse(json);
  if (!parsed.success) {
    throw new ModelResponseError(
      `endpoint answer breaks the contract: ${describeZodError(parsed.error)}`,
      { cause: parsed.error },
    );
  }
  if (parsed.data.status === "unusable") {
    // The quality gate refused the image: reported with its reasons, never as clean.
    return storeResult(deps, lotId, input.index, {
      fileName: image.fileName,
      key: image.key,
      status: "unusable",
      width: preprocessed.width,
      height: preprocessed.height,
      model: parsed.data.model,
      quality: parsed.data.quality,
      defects: [],
    });
  }
  // The endpoint read the original, so its pixels are the report's pixels: nothing to map back.
  const { wafer, defects } = parsed.data;
  if (wafer.imageWidth !== preprocessed.width || wafer.imageHeight !== preprocessed.height) {
    throw new ModelResponseError(
      `endpoint saw a ${wafer.imageWidth}x${wafer.imageHeight} image, ${image.fileName} is ${preprocessed.width}x${preprocessed.height}`,
    );
  }
  const status = defects.length > 0 ? "defects_found" : "clean";
  if (!parsed.data.overlay) {
    throw new ModelResponseError(
      `endpoint answered without the overlay it was asked for (overlay_px=${OVERLAY_MAX_SIDE})`,
    );
  }
  // Drawn by the endpoint on the raster it decoded: stored as it comes.
  const overlayKey = await storeOverlay(deps, lotId, image.fileName, parsed.data.overlay);
  const result: ImageResult = {
    fileName: image.fileName,
    key: image.key,
    status,
    width: preprocessed.width,
    height: preprocessed.height,
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
