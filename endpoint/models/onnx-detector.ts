// An ONNX model that replaces the classical detector: it must find the wafer and the defects itself.
import { basename, extname } from "node:path";
import * as ort from "onnxruntime-node";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { DEFECT_CLASSES } from "../../schemas/common.ts";
import type { Defect, DetectionHints, Wafer } from "../../schemas/detection.ts";
import { WaferNotFoundError } from "../detector/errors.ts";
import { pixelToWaferMm, type WaferFrame } from "../detector/geometry.ts";
import { ModelLoadError, ModelNotLoadedError, ModelOutputError } from "../errors.ts";
import type { DetectionResult, WaferModel } from "./model.ts";
import { createOnnxSession, readOnnxFile } from "./onnx-file.ts";

/**
 * The replacement contract (docs in endpoint/models/README.md):
 *   input   one float32 [1, 1, H, W]: the gray image scaled to 0-1 of full scale; fixed H and W
 *           make the server resize the image to them (area average), symbolic ones take it as is
 *   outputs `wafer`  float32, 4 values: centre x, centre y, radius (tensor pixels), notch angle
 *                    (degrees clockwise from +x); a radius <= 0 means "no wafer" (HTTP 422)
 *           `boxes`  float32 [N, 4]: x0, y0, x1, y1 in tensor pixels
 *           `scores` float32 [N] in 0-1
 *           `labels` int64 or float32 [N]: index into particle, scratch, void, stain, edge_chip, unknown
 */
export const DETECTOR_OUTPUTS = ["wafer", "boxes", "scores", "labels"] as const;

type Dim = number | string;

/** Area-average resampling, so shrinking a 2048 px frame keeps small defects' energy. */
export function resampleToFloat(image: GrayImage, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const full = fullScale(image);
  const sx = image.width / width;
  const sy = image.height / height;
  for (let oy = 0; oy < height; oy++) {
    const y0 = oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < width; ox++) {
      const x0 = ox * sx;
      const x1 = x0 + sx;
      let sum = 0;
      let weight = 0;
      for (let y = Math.floor(y0); y < Math.min(image.height, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.min(image.width, Math.ceil(x1)); x++) {
          const w = wy * (Math.min(x + 1, x1) - Math.max(x, x0));
          sum += w * (image.data[y * image.width + x] as number);
          weight += w;
        }
      }
      out[oy * width + ox] = weight > 0 ? sum / weight / full : 0;
    }
  }
  return out;
}

/** Wafer level and noise sigma (fractions of full scale) measured on a sample of disk pixels. */
function measureDisk(
  image: GrayImage,
  cx: number,
  cy: number,
  r: number,
): { level: number; sigma: number } {
  const full = fullScale(image);
  const step = Math.max(1, Math.floor(r / 150));
  const levels: number[] = [];
  const diffs: number[] = [];
  const inner = 0.9 * r;
  for (
    let y = Math.max(0, Math.ceil(cy - inner));
    y < Math.min(image.height, cy + inner);
    y += step
  ) {
    for (
      let x = Math.max(0, Math.ceil(cx - inner));
      x < Math.min(image.width - 1, cx + inner);
      x += step
    ) {
      if ((x - cx) ** 2 + (y - cy) ** 2 >= inner * inner) continue;
      const v = image.data[y * image.width + x] as number;
      levels.push(v);
      diffs.push(Math.abs((image.data[y * image.width + x + 1] as number) - v));
    }
  }
  const median = (values: number[]) => {
    if (values.length === 0) return 0;
    values.sort((a, b) => a - b);
    return values[values.length >> 1] as number;
  };
  // MAD of a neighbour difference: sigma * sqrt(2) * 0.6745 for white noise.
  return { level: median(levels) / full, sigma: median(diffs) / (Math.SQRT2 * 0.6745) / full };
}

export function createOnnxDetectorModel(path: string): WaferModel {
  let session: ort.InferenceSession | undefined;
  let inputName = "";
  let inputShape: Dim[] = [];
  const model: WaferModel = {
    info: { name: `onnx-${basename(path, extname(path))}`, version: "unloaded" },
    async load() {
      const { bytes, metadata } = await readOnnxFile(path);
      const created = await createOnnxSession(path, bytes);
      const input = created.inputMetadata.length === 1 ? created.inputMetadata[0] : undefined;
      const shapeOk =
        input?.isTensor === true &&
        input.type === "float32" &&
        input.shape.length === 4 &&
        [0, 1].every((i) => input.shape[i] === 1 || typeof input.shape[i] === "string");
      if (!shapeOk || !input?.isTensor) {
        await created.release();
        const got = created.inputMetadata
          .map((m) =>
            m.isTensor ? `'${m.name}' ${m.type} [${m.shape.join(", ")}]` : `'${m.name}'`,
          )
          .join(", ");
        throw new ModelLoadError(
          `${path} must take one float32 image [1, 1, H, W] to replace the detector; it takes ${got || "nothing"}`,
        );
      }
      const missing = DETECTOR_OUTPUTS.filter((name) => !created.outputNames.includes(name));
      if (missing.length > 0) {
        await created.release();
        throw new ModelLoadError(
          `${path} must give outputs ${DETECTOR_OUTPUTS.join(", ")} to replace the detector; missing ${missing.join(", ")} (it gives ${created.outputNames.join(", ") || "nothing"})`,
        );
      }
      for (const dim of input.shape.slice(2)) {
        if (typeof dim === "number" && !(dim >= 16 && dim <= 8192)) {
          await created.release();
          throw new ModelLoadError(
            `${path} takes an image side of ${dim} px; expected 16-8192 or symbolic`,
          );
        }
      }
      inputName = input.name;
      inputShape = [...input.shape];
      session = created;
      model.info = { ...model.info, version: metadata["waferflow.model_version"] ?? "unversioned" };
    },
    async detect(image: GrayImage, hints: DetectionHints): Promise<DetectionResult> {
      if (!session) throw new ModelNotLoadedError(`ONNX model ${path} is not loaded`);
      const started = performance.now();
      const tensorHeight = typeof inputShape[2] === "number" ? inputShape[2] : image.height;
      const tensorWidth = typeof inputShape[3] === "number" ? inputShape[3] : image.width;
      const pixels = resampleToFloat(image, tensorWidth, tensorHeight);
      const prepared = performance.now();
      let outputs: ort.InferenceSession.ReturnType;
      try {
        outputs = await session.run({
          [inputName]: new ort.Tensor("float32", pixels, [1, 1, tensorHeight, tensorWidth]),
        });
      } catch (cause) {
        throw new ModelOutputError(`ONNX model ${path} failed: ${(cause as Error).message}`, {
          cause,
        });
      }
      const inferred = performance.now();
      const numbers = (name: string): number[] => {
        const tensor = outputs[name];
        if (!tensor) throw new ModelOutputError(`ONNX model ${path} gave no '${name}' output`);
        if (tensor.type !== "float32" && tensor.type !== "int64" && tensor.type !== "int32") {
          throw new ModelOutputError(
            `ONNX model ${path}: '${name}' is ${tensor.type}, expected a number tensor`,
          );
        }
        return Array.from(tensor.data as ArrayLike<number | bigint>, Number);
      };
      const [cx, cy, r, notch] = numbers("wafer");
      if (cx === undefined || cy === undefined || r === undefined || notch === undefined) {
        throw new ModelOutputError(
          `ONNX model ${path}: 'wafer' must hold 4 values (cx, cy, radius, notch)`,
        );
      }
      if (!(r > 0)) throw new WaferNotFoundError(`ONNX model ${path} found no wafer in the image`);
      const boxes = numbers("boxes");
      const scores = numbers("scores");
      const labels = numbers("labels");
      const count = scores.length;
      if (boxes.length !== 4 * count || labels.length !== count) {
        throw new ModelOutputError(
          `ONNX model ${path}: ${boxes.length / 4} boxes, ${count} scores and ${labels.length} labels disagree`,
        );
      }
      const sx = image.width / tensorWidth;
      const sy = image.height / tensorHeight;
      const radiusPx = (r * (sx + sy)) / 2;
      const diameterMm = hints.waferDiameterMm ?? 300;
      const mmPerPx = diameterMm / (2 * radiusPx);
      const notchAngleDeg = hints.notchAngleDeg ?? ((notch % 360) + 360) % 360;
      const frame: WaferFrame = { cx: cx * sx, cy: cy * sy, radiusPx, diameterMm, notchAngleDeg };
      const measured = measureDisk(image, frame.cx, frame.cy, radiusPx);
      const wafer: Wafer = {
        imageWidth: image.width,
        imageHeight: image.height,
        centerPx: { x: frame.cx, y: frame.cy },
        radiusPx,
        diameterMm,
        mmPerPx,
        notchAngleDeg,
        notchSource: hints.notchAngleDeg !== undefined ? "metadata" : "detected",
        // The contract has no surface output: a die pitch hint is the only evidence of a pattern.
        surface: hints.diePitchMm ? "patterned" : "bare",
        diePitchPx: hints.diePitchMm
          ? { x: hints.diePitchMm.x / mmPerPx, y: hints.diePitchMm.y / mmPerPx }
          : null,
        noiseSigma: measured.sigma,
        waferLevel: measured.level,
      };
      const defects: Defect[] = [];
      for (let i = 0; i < count; i++) {
        const [bx0, by0, bx1, by1] = boxes.slice(4 * i, 4 * i + 4) as [
          number,
          number,
          number,
          number,
        ];
        const x0 = Math.max(0, Math.min(image.width - 1, Math.floor(Math.min(bx0, bx1) * sx)));
        const y0 = Math.max(0, Math.min(image.height - 1, Math.floor(Math.min(by0, by1) * sy)));
        const x1 = Math.max(x0 + 1, Math.min(image.width, Math.ceil(Math.max(bx0, bx1) * sx)));
        const y1 = Math.max(y0 + 1, Math.min(image.height, Math.ceil(Math.max(by0, by1) * sy)));
        const centroid = { x: (x0 + x1) / 2, y: (y0 + y1) / 2 };
        const label = DEFECT_CLASSES[Math.round(labels[i] as number)] ?? "unknown";
        defects.push({
          class: label,
          score: Math.min(1, Math.max(0, Number.isFinite(scores[i]) ? (scores[i] as number) : 0)),
          bbox: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
          centroidPx: centroid,
          // Boxes are all a replacement model reports, so the box area stands in for the blob's.
          areaPx: (x1 - x0) * (y1 - y0),
          waferMm: pixelToWaferMm(frame, centroid.x, centroid.y),
          die: null,
        });
      }
      const round = (ms: number) => Math.round(ms * 100) / 100;
      return {
        wafer,
        defects,
        timingMs: {
          prepare: round(prepared - started),
          onnx: round(inferred - prepared),
          total: round(performance.now() - started),
        },
      };
    },
  };
  return model;
}
