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

export function measureNoise(work: FloatMap, wafer: WaferPlace): Noise {
  const { analysis } = wafer;
  // A third of a grey level (binned) is the quantisation floor of an integer image.
  const sigmaMap = Math.max(
    estimateNoiseSigma(work.data, work.width, work.height, analysis),
    0.3 / work.scale,
  );
  return { sigmaMap, level: medianOnDisk(work, wafer) };
}

/** Median of the map over the analysis disk, sampled on a sparse grid (about 150 px per radius). */
function medianOnDisk(work: FloatMap, wafer: WaferPlace): number {
  const { data, width, height } = work;
  const { cx, cy, r } = wafer.analysis;
  const step = Math.max(1, Math.floor(r / 150));
  const values = new Float64Array((Math.ceil((2 * r) / step) + 1) ** 2);
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
