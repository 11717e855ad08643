// The residual's pixel tail: how much heavier than a Gaussian its single-pixel extremes are, on a stratified seeded sample of the disk.

import { seededUint32At } from "../../lib/random.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { quantileOfMagnitudes, quantilesOfMagnitudes } from "./select.ts";
import { DETECTION, PIXEL_TAIL } from "./thresholds.ts";

const Q95_TO_SIGMA = DETECTION.q95ToSigma;

/**
 * How much heavier than a Gaussian the tail of `residual` is, measured where it matters for
 * single-pixel seeds: the |residual| quantile DETECTION.pixelTailQuantile over its 95th
 * percentile, each in units of what a Gaussian gives (3.29 and 1.96 sigma), never below 1.
 * Pixels whose eight neighbours (binomial weights, centre left out) stand out are left out:
 * an extended defect or stain is not noise, while an isolated noise extreme, the thing
 * the pixel seed must not fire on, keeps quiet neighbours and stays in the sample.
 * The sample is pixelTailSample's: about pixelTailSampleCount() pixels spread over the disk.
 */
export function pixelTailFactor(map: FloatMap, residual: Float32Array, region: DiskRegion): number {
  const { width } = map;
  const sample = pixelTailSample(map.width, map.height, region, tailScratch);
  const n = sample.length;
  if (n < 1000) return 1;
  // Scratch kept between calls (detection is synchronous): |centre| is a float32 value, held
  // exactly in a Float32Array; |around| is a double.
  const centre = tailScratch.centre.length >= n ? tailScratch.centre : new Float32Array(n);
  const aroundAbs = tailScratch.around.length >= n ? tailScratch.around : new Float64Array(n);
  tailScratch.centre = centre;
  tailScratch.around = aroundAbs;
  for (let j = 0; j < n; j++) {
    const i = sample[j] as number;
    const edges =
      (residual[i - 1] as number) +
      (residual[i + 1] as number) +
      (residual[i - width] as number) +
      (residual[i + width] as number);
    const corners =
      (residual[i - width - 1] as number) +
      (residual[i - width + 1] as number) +
      (residual[i + width - 1] as number) +
      (residual[i + width + 1] as number);
    centre[j] = Math.abs(residual[i] as number);
    aroundAbs[j] = Math.abs((2 * edges + corners) / 12);
  }
  const aroundSigma = quantileOfMagnitudes(aroundAbs, n, 0.95) * Q95_TO_SIGMA;
  // The quiet samples, compacted in place at the front of `centre` (never ahead of the reads).
  const cut = DETECTION.growSigmas * aroundSigma;
  // Without a branch: each value is written at the front's next place and kept there (the
  // place moves on) only when it is quiet; a place at or before k was read already. Whether a
  // sample is quiet is random from one sample to the next, so a branch mispredicted often.
  let m = 0;
  for (let k = 0; k < n; k++) {
    centre[m] = centre[k] as number;
    m += +((aroundAbs[k] as number) < cut);
  }
  if (m < 1000) return 1;
  // Both quantiles from one histogram pass over the sample.
  const [tailQuantile, bodyQuantile] = quantilesOfMagnitudes(centre, m, [
    DETECTION.pixelTailQuantile,
    0.95,
  ]) as [number, number];
  const tail = tailQuantile / DETECTION.pixelTailGaussianSigmas;
  const body = bodyQuantile * Q95_TO_SIGMA;
  return body > 0 ? Math.max(1, tail / body) : 1;
}

/**
 * How many samples the pixel tail needs (thresholds.ts PIXEL_TAIL): the n at which the
 * quantile DETECTION.pixelTailQuantile of |Gaussian noise| has the relative standard error
 * PIXEL_TAIL.relativeError, SE = sqrt(p (1 - p) / n) / f(x_p) with f(x) = 2 phi(x): 72,800.
 */
export function pixelTailSampleCount(): number {
  const p = DETECTION.pixelTailQuantile;
  const x = DETECTION.pixelTailGaussianSigmas;
  const density = (2 * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI);
  return Math.ceil((p * (1 - p)) / (PIXEL_TAIL.relativeError * x * density) ** 2);
}

/**
 * The pixel tail's sample, as map indices in row order of its cells: the disk's bounding square
 * (pixels with all eight neighbours on the map) cut into square cells of side s, whole pixels
 * each ([floor(k s), floor((k + 1) s)) from the square's corner), s chosen so that the disk
 * holds pixelTailSampleCount() cells, and one pixel at a seeded random place in each cell,
 * kept when it lies inside the disk (a cell the rim cuts keeps its pixel as often as it lies
 * inside). Stratified: every part of the disk holds its share of the sample, and the places
 * are never in step with a die pattern or 8 px JPEG blocks as a regular grid's can be. A disk of
 * at most that many pixels gives every one of its pixels (s = 1). Deterministic: the same
 * disk and map give the same pixels (PIXEL_TAIL.sampleSeed).
 */
export function pixelTailSample(
  width: number,
  height: number,
  region: DiskRegion,
  /** Where to keep the sample between calls (grown when too small); a new array when not given. */
  scratch?: { sample: Int32Array },
): Int32Array {
  const { cx, cy, r } = region;
  const r2 = r * r;
  const xFirst = Math.max(1, Math.ceil(cx - r));
  const yFirst = Math.max(1, Math.ceil(cy - r));
  // Exclusive ends: the last pixel with a neighbour on each side, and the disk's edge.
  const xEnd = Math.min(width - 1, Math.ceil(cx + r));
  const yEnd = Math.min(height - 1, Math.ceil(cy + r));
  if (xEnd <= xFirst || yEnd <= yFirst) return new Int32Array(0);
  const side = Math.max(1, Math.sqrt((Math.PI * r2) / pixelTailSampleCount()));
  const columns = Math.ceil((xEnd - xFirst) / side);
  const rows = Math.ceil((yEnd - yFirst) / side);
  // Cell k spans [edge(k), edge(k + 1)) from the first pixel: at least one pixel since side >= 1.
  const columnEdge = new Int32Array(columns + 1);
  for (let k = 0; k <= columns; k++) columnEdge[k] = Math.min(xEnd - xFirst, Math.floor(k * side));
  let out = scratch?.sample ?? new Int32Array(0);
  if (out.length < columns * rows) out = new Int32Array(columns * rows);
  if (scratch) scratch.sample = out;
  let n = 0;
  for (let row = 0; row < rows; row++) {
    const top = Math.floor(row * side);
    const tall = Math.min(yEnd - yFirst, Math.floor((row + 1) * side)) - top;
    // Cells wholly beside the disk are passed over (their pixel would be dropped): the columns
    // within one cell of the disk's widest chord across this row of cells.
    const nearest = Math.min(Math.max(cy, yFirst + top), yFirst + top + tall - 1);
    const half = Math.sqrt(Math.max(0, r2 - (nearest - cy) ** 2));
    const from = Math.max(0, Math.floor((cx - half - xFirst) / side) - 1);
    const to = Math.min(columns, Math.ceil((cx + half - xFirst) / side) + 1);
    for (let column = from; column < to; column++) {
      const left = columnEdge[column] as number;
      const wide = (columnEdge[column + 1] as number) - left;
      // The cell's own number of the seeded stream, its two 16-bit halves the place across and down.
      const bits = seededUint32At(PIXEL_TAIL.sampleSeed, row * columns + column);
      const x = xFirst + left + (((bits >>> 16) * wide) >>> 16);
      const y = yFirst + top + (((bits & 0xffff) * tall) >>> 16);
      const dx = x - cx;
      const dy = y - cy;
      if (dx * dx + dy * dy < r2) out[n++] = y * width + x;
    }
  }
  return out.subarray(0, n);
}

/**
 * pixelTailFactor's sample and its values, grown to the largest sample seen (about 1.3 MB: the
 * sample is about 73,000 pixels of about 93,000 cells at any size).
 */
const tailScratch = {
  sample: new Int32Array(0),
  centre: new Float32Array(0),
  around: new Float64Array(0),
};
