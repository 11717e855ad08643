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
