// Measuring the sensor noise sigma of one image, robust to die patterns and defects.
import { quantileInPlace } from "./raster.ts";

export interface DiskRegion {
  cx: number;
  cy: number;
  r: number;
}

/** MAD to sigma for a normal distribution. */
export const MAD_TO_SIGMA = 1.4826;
/** Var(p - mean of 4 neighbours) = (1 + 4/16) sigma^2 for white noise. */
export const LAPLACIAN_GAIN = Math.sqrt(1.25);

/**
 * Noise sigma (in the raster's units) from the MAD of a 5-point Laplacian over the disk.
 * Pattern edges are the enemy of this estimate, so a second pass keeps only pixels whose
 * central differences are small: those differences are statistically independent of the
 * Laplacian for white noise, so gating on them does not bias the estimate.
 */
export function estimateNoiseSigma(
  data: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  maxSamples = 200_000,
): number {
  const rows: number[] = [];
  const y0 = Math.max(1, Math.ceil(region.cy - region.r));
  const y1 = Math.min(height - 2, Math.floor(region.cy + region.r));
  const approxPixels = Math.PI * region.r * region.r;
  const rowStride = Math.max(1, Math.round(approxPixels / maxSamples));
  for (let y = y0; y <= y1; y += rowStride) rows.push(y);
  const lap = new Float32Array(Math.ceil(approxPixels / rowStride) + width * 2);
  const grad = new Float32Array(lap.length);
  let n = 0;
  for (const y of rows) {
    const dy = y - region.cy;
    const half = Math.sqrt(Math.max(0, region.r * region.r - dy * dy));
    const xa = Math.max(1, Math.ceil(region.cx - half));
    const xb = Math.min(width - 2, Math.floor(region.cx + half));
    for (let x = xa; x <= xb && n < lap.length; x++) {
      const i = y * width + x;
      const c = data[i] as number;
      const l = data[i - 1] as number;
      const r = data[i + 1] as number;
      const u = data[i - width] as number;
      const d = data[i + width] as number;
      lap[n] = c - 0.25 * (l + r + u + d);
      grad[n] = Math.max(Math.abs(r - l), Math.abs(d - u));
      n++;
    }
  }
  if (n < 16) return 0;
  const abs = new Float32Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(lap[i] as number);
  const first = (MAD_TO_SIGMA * quantileInPlace(abs, n, 0.5)) / LAPLACIAN_GAIN;
  // sqrt(2)*sigma is the spread of a central difference; 3 of those passes 99.7% of noise.
  const gate = 3 * Math.SQRT2 * first;
  let m = 0;
  for (let i = 0; i < n; i++) {
    if ((grad[i] as number) <= gate) abs[m++] = Math.abs(lap[i] as number);
  }
  if (m < n * 0.2) return first;
  return (MAD_TO_SIGMA * quantileInPlace(abs, m, 0.5)) / LAPLACIAN_GAIN;
}

/** Var(p - mean of two independent samples) = (1 + 1/2) sigma^2. */
export const PAIR_DIFFERENCE_GAIN = Math.sqrt(1.5);

/**
 * Noise sigma of `data` as the die-to-die comparison sees it: from the MAD of
 * p - (p(+a) + p(-a)) / 2, one die pitch apart along a. The pattern cancels there and the
 * noise of samples a pitch apart is independent whatever its spatial correlation (correlated
 * sensor noise, blur, JPEG smoothing), so this measures the per-pixel sigma of the map the
 * comparison runs on, which a neighbour-pixel Laplacian underestimates when noise is
 * correlated. References are taken at the nearest pixel, so each carries the full sigma. Pixels near pattern edges (where misregistration adds to the difference) are
 * left out by a gate on the local range in the dies along b, which shares no sample with the
 * difference and so does not bias it.
 */
export function estimateDieDifferenceNoise(
  data: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  a: { x: number; y: number },
  b: { x: number; y: number },
  maxSamples = 100_000,
): number {
  const step = Math.max(1, Math.round(Math.sqrt((Math.PI * region.r * region.r) / maxSamples)));
  const reach = Math.hypot(a.x, a.y) + Math.hypot(b.x, b.y) + 2;
  const inner = region.r - reach;
  if (inner <= 4) return 0;
  // Nearest-pixel samples: a bilinear one averages noise away and would understate sigma.
  const sample = (x: number, y: number): number =>
    data[Math.round(y) * width + Math.round(x)] as number;
  const localRange = (x: number, y: number): number => {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const v = sample(x + dx, y + dy);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    return hi - lo;
  };
  const diffs: number[] = [];
  const ranges: number[] = [];
  for (let y = Math.ceil(region.cy - inner); y <= region.cy + inner; y += step) {
    if (y < 2 || y >= height - 2) continue;
    for (let x = Math.ceil(region.cx - inner); x <= region.cx + inner; x += step) {
      if (x < 2 || x >= width - 2) continue;
      if ((x - region.cx) ** 2 + (y - region.cy) ** 2 > inner * inner) continue;
      const v = data[y * width + x] as number;
      diffs.push(v - 0.5 * (sample(x + a.x, y + a.y) + sample(x - a.x, y - a.y)));
      ranges.push(Math.min(localRange(x + b.x, y + b.y), localRange(x - b.x, y - b.y)));
    }
  }
  const n = diffs.length;
  if (n < 64) return 0;
  const abs = Float64Array.from(diffs, Math.abs);
  const first = (MAD_TO_SIGMA * quantileInPlace(abs, n, 0.5)) / PAIR_DIFFERENCE_GAIN;
  // A 3x3 range of pure noise stays under about 5 sigma (the largest minus the smallest of 9).
  const gate = 5 * first;
  let m = 0;
  for (let i = 0; i < n; i++) {
    if ((ranges[i] as number) <= gate) abs[m++] = Math.abs(diffs[i] as number);
  }
  if (m < 0.2 * n) return first;
  return (MAD_TO_SIGMA * quantileInPlace(abs, m, 0.5)) / PAIR_DIFFERENCE_GAIN;
}
