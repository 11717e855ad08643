// How much heavier than a Gaussian the smoothed detection score's tail is, measured robustly to defects.
import type { DiskRegion } from "./noise.ts";
import { quantileOfMagnitudes } from "./select.ts";
import type { SampleGridActivity } from "./threshold.ts";
import { DETECTION, SCORE_TAIL, SPEC } from "./thresholds.ts";

/**
 * The seed threshold is DETECTION.seedSigmas sigmas of the score, with sigma read from its
 * 95th percentile: right for a Gaussian tail, too low for the heavier tails of die-specific
 * detail (JPEG blocks, correlated noise) that survive the die-to-die comparison, whose single
 * excursions are particle-sized blobs just over the threshold. The tail is
 * measured like the pixel seed's (pixelTailFactor): the |score| / sigma quantile at 1e-3 against
 * the Gaussian's 3.29, per sector of the disk (DETECTION.scoreTailSectors: rings x angles), the
 * median sector standing for the wafer.
 *
 * The tail is that of the noise, so it is read on what the detector would call noise: the
 * pixels of `notNoise` (the grown blobs larger than one excursion of noise can be: stains,
 * voids, scratches, street rows and columns; see notNoiseBlobs) are left out. A sector holds
 * only ~1,200-2,500 samples, so its 1e-3 quantile is its 2nd-3rd largest: three samples of any
 * defect or pattern line set it, and the median sector alone did not protect the wafer whose
 * defects or street lines touch half the sectors (docs/detector-recall.md rounds 26 and 30).
 * JPEG and correlated noise are wafer-wide, their excursions particle-sized: they stay in
 * every sector's sample and still lift the factor.
 * Returns the factor (>= 1) by which a particle-sized blob must clear the seed threshold.
 */
export function scoreTailFactor(
  score: Float32Array,
  width: number,
  region: DiskRegion,
  sigmaAt: (i: number) => number,
  /** Map pixel indices that are not noise (each list one blob's pixels), left out. */
  notNoise: readonly Int32Array[] = [],
  /**
   * The pattern activities the thresholds took on the disk's sample grid, and the sigma from a
   * pixel and its activity (sigmaAt(i) is sigmaOfActivity(i, activity at i)). Where the grid
   * is this one's (same origin and step) and holds the sample, the activity is read there
   * instead of from the map's two ranges again: the same value, so the same sigma.
   */
  known: SampleGridActivity | null = null,
  sigmaOfActivity: ((i: number, activity: number) => number) | null = null,
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
  const columns = Math.floor((x1 - x0) / step) + 1;
  const capacity = (Math.floor((y1 - y0) / step) + 1) * columns;
  const skipped = sampleGridMask(notNoise, width, x0, y0, step, columns, capacity);
  // Kept between calls (detection is synchronous): every entry read below is written first.
  if (tailScratch.indices.length < capacity) {
    tailScratch.indices = new Int32Array(capacity);
    tailScratch.sectorOf = new Uint8Array(capacity);
    tailScratch.values = new Float64Array(capacity);
  }
  const indices = tailScratch.indices;
  const sectorOf = tailScratch.sectorOf;
  const counts = new Int32Array(sectors);
  let n = 0;
  const r2 = r * r;
  const grid =
    known && sigmaOfActivity && known.step === step && known.x0 === x0 && known.y0 === y0
      ? known
      : null;
  if (grid && tailScratch.activity.length < capacity)
    tailScratch.activity = new Float64Array(capacity);
  const sampleActivity = tailScratch.activity;
  for (let y = y0, row = 0, gridRow = 0; y <= y1; y += step, row += columns, gridRow++) {
    const dy = y - cy;
    for (let x = x0, cell = row; x <= x1; x += step, cell++) {
      if (skipped?.[cell]) continue;
      const dx = x - cx;
      const d2 = dx * dx + dy * dy;
      if (d2 >= r2) continue;
      // Rings of equal area, so every sector holds about as many samples.
      const ring = Math.min(rings - 1, Math.floor((d2 / r2) * rings));
      const angle = quadrants ? quadrantOf(dx, dy) : angleSector(dx, dy, angles);
      const s = ring * angles + angle;
      indices[n] = y * width + x;
      if (grid) {
        // NaN (no sample of the thresholds' walk there): the sigma is read from the map.
        const column = cell - row;
        sampleActivity[n] =
          gridRow < grid.rows && column < grid.columns
            ? (grid.activity[gridRow * grid.columns + column] as number)
            : Number.NaN;
      }
      sectorOf[n] = s;
      counts[s] = (counts[s] as number) + 1;
      n++;
    }
  }
  // Each sector's values in one slice of `values`, in sample order.
  // Each of values[0..n) is written once below (a sector's slice, in sample order).
  const values = tailScratch.values;
  const starts = new Int32Array(sectors + 1);
  for (let s = 0; s < sectors; s++) starts[s + 1] = (starts[s] as number) + (counts[s] as number);
  const fill = starts.slice(0, sectors);
  if (grid && sigmaOfActivity)
    for (let k = 0; k < n; k++) {
      const i = indices[k] as number;
      const s = sectorOf[k] as number;
      const a = sampleActivity[k] as number;
      const sigma = Number.isNaN(a) ? sigmaAt(i) : sigmaOfActivity(i, a);
      values[fill[s] as number] = sigma > 0 ? Math.abs(score[i] as number) / sigma : 0;
      fill[s] = (fill[s] as number) + 1;
    }
  else
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

/**
 * scoreTailFactor's per-sample arrays, kept between calls (about 0.8 MB a 2048 px wafer, that
 * was allocated, zero-filled and collected each detection): pixel, sector, value and the
 * activity read from the thresholds' grid.
 */
const tailScratch = {
  indices: new Int32Array(0),
  sectorOf: new Uint8Array(0),
  values: new Float64Array(0),
  activity: new Float64Array(0),
};

/**
 * 1 on the cells of the sample grid (every `step`-th pixel of every `step`-th row from (x0, y0),
 * `columns` per row) that a pixel of `pixels` falls on; null when there are none to leave out.
 */
function sampleGridMask(
  pixels: readonly Int32Array[],
  width: number,
  x0: number,
  y0: number,
  step: number,
  columns: number,
  cells: number,
): Uint8Array | null {
  if (pixels.length === 0 || cells <= 0) return null;
  const mask = new Uint8Array(cells);
  for (const list of pixels)
    for (let k = 0; k < list.length; k++) {
      const i = list[k] as number;
      const y = Math.floor(i / width);
      const dx = i - y * width - x0;
      const dy = y - y0;
      if (dx < 0 || dy < 0 || dx % step !== 0 || dy % step !== 0) continue;
      const column = dx / step;
      if (column >= columns) continue;
      const cell = (dy / step) * columns + column;
      if (cell < cells) mask[cell] = 1;
    }
  return mask;
}

/**
 * The blobs that are not one excursion of noise: those whose extent (the longer side of their
 * box, map px) exceeds SCORE_TAIL.noiseBlobMaxExtentParticles times the spec's largest particle
 * on the map. Their pixels are left out of the tail measurement (scoreTailFactor).
 */
export function notNoiseBlobs(
  blobs: readonly { pixels: Int32Array }[],
  width: number,
  /** Full-resolution px per map px. */
  mapScale: number,
  /** The frame's shorter side / 2048 (the spec's sizes are at 2048). */
  sizeScale: number,
): Int32Array[] {
  const limit =
    (SCORE_TAIL.noiseBlobMaxExtentParticles * SPEC.particlePx[1] * sizeScale) / mapScale;
  const out: Int32Array[] = [];
  for (const blob of blobs) {
    const pixels = blob.pixels;
    // A blob of fewer pixels than the limit cannot span more than it (8-connected).
    if (pixels.length <= limit) continue;
    let xMin = width;
    let xMax = -1;
    let yMin = Number.POSITIVE_INFINITY;
    let yMax = -1;
    for (let k = 0; k < pixels.length; k++) {
      const i = pixels[k] as number;
      const y = Math.floor(i / width);
      const x = i - y * width;
      if (x < xMin) xMin = x;
      if (x > xMax) xMax = x;
      if (y < yMin) yMin = y;
      if (y > yMax) yMax = y;
    }
    if (Math.max(xMax - xMin + 1, yMax - yMin + 1) > limit) out.push(pixels);
  }
  return out;
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
