// Stage "noise": the sensor noise and the wafer level, measured on the working map inside the disk.
import { estimateNoiseSigma } from "../noise.ts";
import { type FloatMap, quantileInPlace } from "../raster.ts";
import { quantileOfMagnitudes } from "../select.ts";
import type { WaferPlace } from "./place.ts";

export interface Noise {
  /** Sensor noise sigma on the working map (native units). */
  sigmaMap: number;
  /** Median wafer level on the working map. */
  level: number;
}

/**
 * `scratch`: a map-sized buffer whose own use starts after this stage (its values are
 * overwritten here), lent for the samples instead of new arrays.
 */
export function measureNoise(work: FloatMap, wafer: WaferPlace, scratch?: Float32Array): Noise {
  const { analysis } = wafer;
  // A third of a grey level (binned) is the quantisation floor of an integer image.
  const sigmaMap = Math.max(
    estimateNoiseSigma(work.data, work.width, work.height, analysis, undefined, scratch),
    0.3 / work.scale,
  );
  return { sigmaMap, level: medianOnDisk(work, wafer, scratch) };
}

/** Median of the map over the analysis disk, sampled on a sparse grid (about 150 px per radius). */
function medianOnDisk(work: FloatMap, wafer: WaferPlace, scratch?: Float32Array): number {
  const { data, width, height } = work;
  const { cx, cy, r } = wafer.analysis;
  const step = Math.max(1, Math.floor(r / 150));
  // The map's float32 values, held exactly in float32 (the median is one of them).
  const length = (Math.ceil((2 * r) / step) + 1) ** 2;
  const values =
    scratch && scratch.length >= length ? scratch.subarray(0, length) : new Float32Array(length);
  let n = 0;
  let lowest = Number.POSITIVE_INFINITY;
  const yEnd = Math.min(height, cy + r);
  const xEnd = Math.min(width, cx + r);
  for (let y = Math.max(0, Math.ceil(cy - r)); y < yEnd; y += step) {
    for (let x = Math.max(0, Math.ceil(cx - r)); x < xEnd; x += step) {
      if ((x - cx) ** 2 + (y - cy) ** 2 >= r ** 2) continue;
      const v = data[y * width + x] as number;
      values[n++] = v;
      if (v < lowest) lowest = v;
    }
  }
  // A map binned from an image is never negative: the faster select then gives the same value.
  return lowest >= 0 ? quantileOfMagnitudes(values, n, 0.5) : quantileInPlace(values, n, 0.5);
}
