// How much heavier than a Gaussian the smoothed detection score's tail is, measured robustly to defects.
import type { DiskRegion } from "./noise.ts";
import { quantileOfMagnitudes } from "./select.ts";
import { DETECTION } from "./thresholds.ts";

/**
 * The seed threshold is DETECTION.seedSigmas sigmas of the score, with sigma read from its
 * 95th percentile: right for a Gaussian tail, too low for the heavier tails of die-specific
 * detail (JPEG blocks, correlated noise) that survive the die-to-die comparison, whose single
 * excursions are particle-sized blobs just over the threshold. The tail is
 * measured like the pixel seed's (pixelTailFactor): the |score| / sigma quantile at 1e-3 against
 * the Gaussian's 3.29. Defects would dominate that quantile over the whole disk (a stain covers
 * a few % of it), so it is read per sector of the disk (DETECTION.scoreTailSectors: rings x
 * angles) and the median sector is taken: a defect moves only the few sectors it lies in.
 * Returns the factor (>= 1) by which a particle-sized blob must clear the seed threshold.
 */
export function scoreTailFactor(
  score: Float32Array,
  width: number,
  region: DiskRegion,
  sigmaAt: (i: number) => number,
): number {
  const { rings, angles, step } = DETECTION.scoreTailSectors;
  const sectors = rings * angles;
  const { cx, cy, r } = region;
  const y0 = Math.max(1, Math.ceil(cy - r));
  const y1 = Math.floor(cy + r);
  const x0 = Math.max(1, Math.ceil(cx - r));
  const x1 = Math.min(width - 2, Math.floor(cx + r));
  // One pass places every sample in its sector; a second fills each sector's values.
  const capacity = (Math.floor((y1 - y0) / step) + 1) * (Math.floor((x1 - x0) / step) + 1);
  const indices = new Int32Array(capacity);
  const sectorOf = new Uint8Array(capacity);
  const counts = new Int32Array(sectors);
  let n = 0;
  const r2 = r * r;
  for (let y = y0; y <= y1; y += step) {
    const dy = y - cy;
    for (let x = x0; x <= x1; x += step) {
      const dx = x - cx;
      const d2 = dx * dx + dy * dy;
      if (d2 >= r2) continue;
      // Rings of equal area, so every sector holds about as many samples.
      const ring = Math.min(rings - 1, Math.floor((d2 / r2) * rings));
      const angle = Math.min(
        angles - 1,
        Math.floor(((Math.atan2(dy, dx) + Math.PI) / (2 * Math.PI)) * angles),
      );
      const s = ring * angles + angle;
      indices[n] = y * width + x;
      sectorOf[n] = s;
      counts[s] = (counts[s] as number) + 1;
      n++;
    }
  }
  const buckets = Array.from(counts, (c) => new Float64Array(c));
  const fill = new Int32Array(sectors);
  for (let k = 0; k < n; k++) {
    const i = indices[k] as number;
    const s = sectorOf[k] as number;
    const sigma = sigmaAt(i);
    (buckets[s] as Float64Array)[fill[s] as number] =
      sigma > 0 ? Math.abs(score[i] as number) / sigma : 0;
    fill[s] = (fill[s] as number) + 1;
  }
  const tails: number[] = [];
  for (const bucket of buckets) {
    // At least 1000 samples, so about 1 lies beyond the 1e-3 quantile.
    if (bucket.length >= 1000)
      tails.push(quantileOfMagnitudes(bucket, bucket.length, DETECTION.pixelTailQuantile));
  }
  if (tails.length < sectors / 2) return 1;
  tails.sort((a, b) => a - b);
  const median = tails[Math.floor(tails.length / 2)] as number;
  return Math.max(1, median / DETECTION.pixelTailGaussianSigmas);
}
