// One inference, the same in the server's thread or a worker thread: decode once, gate, detect, and draw the preview and overlay from that raster.
import { performance } from "node:perf_hooks";
import { decodeGray } from "../lib/gray-image.ts";
import type { DetectionHints, EndpointAnswer, InvocationResponse } from "../schemas/detection.ts";
import type { WaferModel } from "./models/model.ts";
import { renderOverlayPicture } from "./overlay.ts";
import { renderPreview } from "./preview.ts";
import { gatedDetect } from "./quality/index.ts";

export interface InferenceRequest {
  /** The encoded image (PNG or TIFF), as received or read from S3. */
  image: Uint8Array;
  hints: DetectionHints;
  /** Draw a preview of at most this side from the decoded raster (custom attribute preview_px). */
  previewMaxSide?: number;
  /** Draw the operator's overlay, at most this side, from the decoded raster (overlay_px). */
  overlayMaxSide?: number;
  /** false only for tests of the server's machinery with stub models. */
  qualityGate: boolean;
}

/** The answer without the model's name (the server adds it). */
export type InferenceResult = DistributiveOmit<EndpointAnswer, "model">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const ms = (since: number) => Math.round((performance.now() - since) * 100) / 100;

export async function runInference(
  model: WaferModel,
  request: InferenceRequest,
): Promise<InferenceResult> {
  const started = performance.now();
  const gray = await decodeGray(request.image);
  const decodeMs = ms(started);
  // The quality gate answers `unusable` (200, with reasons) before any model sees the image.
  const gated = request.qualityGate
    ? await gatedDetect(gray, request.hints, (clean, hints) => model.detect(clean, hints))
    : { status: "inspected" as const, ...(await model.detect(gray, request.hints)) };
  if (gated.status === "unusable") {
    return { ...gated, timingMs: { decode: decodeMs, ...gated.timingMs } };
  }
  // Drawn from the raster just decoded: whoever shows the wafer need not decode it again, and the
  // overlay is drawn here, where the defects are known, so nobody decodes a preview to draw on it.
  const pictures: Pick<InvocationResponse, "preview" | "overlay"> = {};
  const pictureMs: Record<string, number> = {};
  if (request.previewMaxSide !== undefined) {
    const started = performance.now();
    pictures.preview = await renderPreview(gray, request.previewMaxSide);
    pictureMs.preview = ms(started);
  }
  if (request.overlayMaxSide !== undefined) {
    const started = performance.now();
    pictures.overlay = await renderOverlayPicture({
      image: gray,
      wafer: gated.wafer,
      defects: gated.defects,
      maxSide: request.overlayMaxSide,
    });
    pictureMs.overlay = ms(started);
  }
  return {
    ...gated,
    ...pictures,
    timingMs: { decode: decodeMs, ...gated.timingMs, ...pictureMs },
  };
}
