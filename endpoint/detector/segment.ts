// Segmenting anomalies: hysteresis thresholding of the smoothed residual into connected blobs.
import { type LineSeedInput, lineCandidateLimit, lineSeeds } from "./line-seed.ts";
import type { DiskRegion } from "./noise.ts";
import { LINE_SEED } from "./thresholds.ts";

export interface Blob {
  /** Working-map pixel indices. */
  pixels: Int32Array;
  sign: 1 | -1;
  /** Seeded only by the line statistic (line-seed.ts): it must be a scratch to be reported. */
  lineSeeded?: boolean;
  /** For a line-seeded blob, the direction of the segment that seeded it (radians, map axes). */
  lineAngle?: number;
  /**
   * A group's residual peak over the spot seed's threshold (pixelSeed.spot) when that passes and its footprint is a spot's
   * (spot-statistic.ts; set at the group stage on patterned wafers, absent elsewhere).
   */
  spotStrength?: number;
  /**
   * Seeded only by the spot seed (pixelSeed.spot: under every other seed): it must be a
   * particle whose footprint is a spot's to be reported (spot-statistic.ts).
   */
  spotSeeded?: boolean;
}

/**
 * Blobs seeded where |score| >= high and grown (8-connected, same sign) over |score| >= low,
 * inside the analysis disk. Caps keep a pathological image from exhausting memory.
 */
/** Seed and grow thresholds per pixel (they vary with the die pattern on patterned wafers). */
export interface Thresholds {
  /** Lower bounds of high(i) and low(i): cheap first tests before the per-pixel ones. */
  minHigh: number;
  minLow: number;
  high: (i: number) => number;
  low: (i: number) => number;
  /**
   * A second seed test on the unsmoothed residual: a defect smaller than a working-map pixel
   * loses most of its peak to smoothing, and this keeps it.
   */
  pixelSeed?: {
    residual: Float32Array;
    min: number;
    high: (i: number) => number;
    /** A blob seeded only here is kept when it grows to at least this many pixels. */
    minPixels: number;
    /**
     * A lower threshold on the same residual, from the false-alarm rate over the disk's pixels
     * (spot-statistic.ts spotSeedSigmas), for the spec's smallest particle: what it alone
     * seeds is marked spotSeeded (patterned wafers only, where a footprint can be read).
     */
    spot?: { min: number; high: (i: number) => number };
  };
  /**
   * A third seed, after the other two: the score's ridge along short segments (line-seed.ts),
   * for thin lines whose pixels stay under both seeds. Its noise model is the smoothed seed's.
   */
  lineSeed?: Pick<LineSeedInput, "sigmaAt" | "minSigma" | "floor" | "pattern" | "lattice">;
}

export function hysteresisBlobs(
  score: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  thresholds: Thresholds,
  maxBlobs = 4000,
): Blob[] {
  const { minHigh, minLow } = thresholds;
  // Fresh (not kept between detections): only the pages of the pixels it marks are touched.
  const visited = new Uint8Array(width * height);
  // Grown on demand: most images have a few small blobs, and this keeps peak memory down.
  let queue = new Int32Array(4096);
  const blobs: Blob[] = [];
  const { cx, cy, r } = region;
  const r2 = r * r;
  const inside = (x: number, y: number) => (x - cx) * (x - cx) + (y - cy) * (y - cy) < r2;
  const alt = thresholds.pixelSeed;
  // The pixel seed's cheap test, read once: this scan passes every pixel of the disk.
  const altResidual = alt?.residual;
  const spot = alt?.spot;
  const altMin = alt ? Math.min(alt.min, spot ? spot.min : alt.min) : Number.POSITIVE_INFINITY;
  // Pixels under both seeds but past the line seed's candidate limit, kept from this scan for
  // the line seed after it (one pass over the disk, not two).
  const line = thresholds.lineSeed;
  const lineLimit = line ? lineCandidateLimit(minLow, line.minSigma) : Number.POSITIVE_INFINITY;
  const scanLimit = Math.min(minHigh, lineLimit);
  let lineCandidates = new Int32Array(line ? 4096 : 0);
  let lineCount = 0;
  const xFirst = Math.max(1, Math.ceil(cx - r));
  const xLimit = Math.min(width - 1, cx + r);
  for (let y = Math.max(1, Math.ceil(cy - r)); y < Math.min(height - 1, cy + r); y++) {
    // The row's run inside the disk, found once: the same pixels `inside` accepts one by one.
    const [xStart, xEnd] = insideRun(y, xFirst, xLimit, region, inside);
    const rowEnd = y * width + xEnd;
    for (let seed = y * width + xStart; seed < rowEnd; seed++) {
      // Nearly every pixel fails both cheap tests: a tight scan skips them.
      seed = nextCandidate(score, altResidual, seed, rowEnd, scanLimit, altMin);
      if (seed === rowEnd) break;
      if (visited[seed]) continue;
      const sv = score[seed] as number;
      const scoreMayPass = sv >= minHigh || sv <= -minHigh;
      const rv = altResidual ? (altResidual[seed] as number) : 0;
      let sign: 1 | -1;
      let minPixels = 1;
      let spotSeeded = false;
      if (scoreMayPass && Math.abs(sv) >= thresholds.high(seed)) {
        sign = sv > 0 ? 1 : -1;
      } else if (alt && (rv >= alt.min || rv <= -alt.min) && Math.abs(rv) >= alt.high(seed)) {
        sign = rv > 0 ? 1 : -1;
        minPixels = alt.minPixels;
      } else if (spot && (rv >= spot.min || rv <= -spot.min) && Math.abs(rv) >= spot.high(seed)) {
        sign = rv > 0 ? 1 : -1;
        minPixels = (alt as NonNullable<typeof alt>).minPixels;
        spotSeeded = true;
      } else {
        if (sv >= lineLimit || sv <= -lineLimit) {
          if (lineCount === lineCandidates.length) {
            const grown = new Int32Array(lineCandidates.length * 2);
            grown.set(lineCandidates);
            lineCandidates = grown;
          }
          lineCandidates[lineCount++] = seed;
        }
        continue;
      }
      visited[seed] = 1;
      queue[0] = seed;
      const count = grow(1, sign);
      // Pixels stay visited either way: an unsupported pixel seed is noise, not a later seed.
      if (count < minPixels) continue;
      // The scan meets a defect's flank first: a blob that grew over a pixel passing another
      // seed stands on that seed, as if it had been seeded there.
      if (spotSeeded && reachesOtherSeed(count, sign)) spotSeeded = false;
      blobs.push(
        spotSeeded
          ? { pixels: queue.slice(0, count), sign, spotSeeded: true }
          : { pixels: queue.slice(0, count), sign },
      );
      if (blobs.length >= maxBlobs) return blobs;
    }
  }
  if (!line) return blobs;
  // Line seeds are looked for after the others, among pixels no blob took: the blobs above
  // come out exactly as without them, and a line seed only adds.
  const seeds = lineSeeds({
    score,
    width,
    height,
    region,
    visited,
    minLow,
    low: thresholds.low,
    candidates: lineCandidates.subarray(0, lineCount),
    ...line,
  });
  const half = (LINE_SEED.segmentMapPx - 1) / 2;
  for (const { index, sign, angle } of seeds) {
    if (visited[index]) continue;
    // The evidence is the segment, so the blob starts as the segment: its pixels of the line's
    // sign, then the usual growth. A weak line's own pixels fall under the grow threshold every
    // few px, and growth from its seed alone leaves pieces too short to read as a line.
    const x = index % width;
    const y = (index - x) / width;
    let start = 0;
    for (let t = -half; t <= half; t++) {
      const q = Math.round(y + t * Math.sin(angle)) * width + Math.round(x + t * Math.cos(angle));
      if (visited[q] || (score[q] as number) * sign <= 0) continue;
      visited[q] = 1;
      queue[start++] = q;
    }
    if (start === 0) continue;
    const count = grow(start, sign);
    blobs.push({ pixels: queue.slice(0, count), sign, lineSeeded: true, lineAngle: angle });
    if (blobs.length >= maxBlobs) return blobs;
  }
  return blobs;

  /** Whether a pixel of queue[0..count) passes the score's seed or the pixel seed, in `sign`. */
  function reachesOtherSeed(count: number, sign: 1 | -1): boolean {
    for (let k = 0; k < count; k++) {
      const p = queue[k] as number;
      const sv = sign * (score[p] as number);
      if (sv >= minHigh && sv >= thresholds.high(p)) return true;
      const rv = sign * ((altResidual as Float32Array)[p] as number);
      if (alt && rv >= alt.min && rv >= alt.high(p)) return true;
    }
    return false;
  }

  /**
   * Breadth-first growth from the visited seeds in queue[0..seeded) over same-sign pixels
   * passing the grow threshold, with a queue that keeps every visited pixel: afterwards
   * queue[0..count) is the blob.
   */
  function grow(seeded: number, sign: 1 | -1): number {
    let top = seeded;
    let count = 0;
    let next = 0;
    while (next < top) {
      const p = queue[next++] as number;
      count++;
      const px = p % width;
      const py = (p - px) / width;
      for (let ny = py - 1; ny <= py + 1; ny++) {
        if (ny < 0 || ny >= height) continue;
        for (let nx = px - 1; nx <= px + 1; nx++) {
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (visited[q]) continue;
          const sq = (score[q] as number) * sign;
          if (sq < minLow || !inside(nx, ny) || sq < thresholds.low(q)) continue;
          visited[q] = 1;
          if (top === queue.length) {
            const grown = new Int32Array(queue.length * 2);
            grown.set(queue);
            queue = grown;
          }
          queue[top++] = q;
        }
      }
    }
    return count;
  }
}

/**
 * The first pixel of [from, to) whose score, or whose residual (when given), passes the cheap
 * seed test (|value| >= its minimum), else `to`. Math.abs(v) >= m is the test as first written
 * (v >= m || v <= -m) for every v and m, NaN and infinities included (for m <= 0 both hold for
 * every number), with one comparison per value instead of two: 25% less scan time.
 */
export function nextCandidate(
  score: Float32Array,
  residual: Float32Array | undefined,
  from: number,
  to: number,
  minHigh: number,
  minResidual: number,
): number {
  if (residual) {
    for (let i = from; i < to; i++) {
      if (Math.abs(score[i] as number) >= minHigh || Math.abs(residual[i] as number) >= minResidual)
        return i;
    }
    return to;
  }
  for (let i = from; i < to; i++) if (Math.abs(score[i] as number) >= minHigh) return i;
  return to;
}

/**
 * The x range [start, end) of row y, within the columns first, first + 1, ... below limit,
 * where `inside` holds. The disk test grows with |x - cx| only (in floating point too), so a
 * row's accepted pixels are one run: its ends are estimated from the circle and then moved
 * with the same test until they sit exactly where the per-pixel test would put them.
 */
export function insideRun(
  y: number,
  first: number,
  limit: number,
  region: DiskRegion,
  inside: (x: number, y: number) => boolean,
): [number, number] {
  const last = Math.ceil(limit) - 1;
  if (last < first) return [first, first];
  const { cx, cy, r } = region;
  // The column nearest the centre is inside when any column of the row is.
  if (!inside(Math.min(last, Math.max(first, Math.round(cx))), y)) return [first, first];
  const half = Math.sqrt(Math.max(0, r * r - (y - cy) * (y - cy)));
  let start = Math.min(last, Math.max(first, Math.ceil(cx - half)));
  while (start > first && inside(start - 1, y)) start--;
  while (!inside(start, y)) start++;
  let end = Math.max(start + 1, Math.min(last + 1, Math.floor(cx + half) + 1));
  while (end <= last && inside(end, y)) end++;
  while (!inside(end - 1, y)) end--;
  return [start, end];
}
