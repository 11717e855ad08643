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
  const quadrants = angles === 4;
  // One pass places every sample in its sector; a second fills each sector's values.
  const capacity = (Math.floor((y1 - y0) / step) + 1) * (Math.floor((x1 - x0) / step) + 1);
  const indices = new Int32Array(Math.max(0, capacity));
  const sectorOf = new Uint8Array(Math.max(0, capacity));
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
      const angle = quadrants ? quadrantOf(dx, dy) : angleSector(dx, dy, angles);
      const s = ring * angles + angle;
      indices[n] = y * width + x;
      sectorOf[n] = s;
      counts[s] = (counts[s] as number) + 1;
      n++;
    }
  }
  // Each sector's values in one slice of `values`, in sample order.
  const values = new Float64Array(n);
  const starts = new Int32Array(sectors + 1);
  for (let s = 0; s < sectors; s++) starts[s + 1] = (starts[s] as number) + (counts[s] as number);
  const fill = starts.slice(0, sectors);
  for (let k = 0; k < n; k++) {
    const i = indices[k] as number;
    const s = sectorOf[k] as number;
    const sigma = sigmaAt(i);
    values[fill[s] as number] = sigma > 0 ? Math.abs(score[i] as number) / sigma : 0;
    fill[s] = (fill[s] as number) + 1;
  }
  const tails: number[] = [];
  for (let s = 0; s < sectors; s++) {
    const count = counts[s] as number;
    // At least 1000 samples, so about 1 lies beyond the 1e-3 quantile.
    if (count >= 1000)
      tails.push(
        quantileOfMagnitudes(
          values.subarray(starts[s] as number, starts[s + 1] as number),
          count,
          DETECTION.pixelTailQuantile,
        ),
      );
  }
  if (tails.length < sectors / 2) return 1;
  tails.sort((a, b) => a - b);
  const median = tails[Math.floor(tails.length / 2)] as number;
  return Math.max(1, median / DETECTION.pixelTailGaussianSigmas);
}

/** The angle sector of (dx, dy): `angles` equal sectors counted from -pi, anticlockwise. */
export function angleSector(dx: number, dy: number, angles: number): number {
  return Math.min(
    angles - 1,
    Math.floor(((Math.atan2(dy, dx) + Math.PI) / (2 * Math.PI)) * angles),
  );
}

/**
 * angleSector(dx, dy, 4) from the signs of dx and dy, without the arc tangent: the four sectors
 * are the quadrants (-pi..-pi/2, -pi/2..0, 0..pi/2, pi/2..pi). Where the angle lies more than
 * 1e-6 rad from an axis (the smaller of |dx|, |dy| above 1e-6 of the larger), the formula's
 * value lies more than 6e-7 from a whole number, far beyond the few ulps (1e-15) that atan2 and
 * the three operations after it can err by, so its floor is the quadrant's number; nearer an
 * axis, or at the centre, the formula itself decides. Same sector for every sample.
 */
export function quadrantOf(dx: number, dy: number): number {
  const ax = Math.abs(dx);
  const ay = Math.abs(dy);
  if (Math.min(ax, ay) > 1e-6 * Math.max(ax, ay)) return dy < 0 ? (dx < 0 ? 0 : 1) : dx > 0 ? 2 : 3;
  return angleSector(dx, dy, 4);
}
