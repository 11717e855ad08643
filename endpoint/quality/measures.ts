// The gate's pixel measures on the found disk: noise sigma, clipped fractions, rim blur, and hot-pixel removal.
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { scanKernelInto } from "../detector/frame-passes.ts";
import { type DiskRegion, LAPLACIAN_GAIN, MAD_TO_SIGMA } from "../detector/noise.ts";
import { quantileInPlace } from "../detector/raster.ts";
import { quantileOfMagnitudes } from "../detector/select.ts";
import {
  HOT_PIXEL_ISOLATION,
  HOT_PIXEL_MIN_STEP,
  HOT_PIXEL_OFF_LINE,
  HOT_PIXEL_SIGMAS,
  NOISE_FLOOR,
} from "./thresholds.ts";

/** The disk the gate measures on: the same shape the detector's noise estimate takes. */
export type Disk = DiskRegion;
/** 10-90% width of a Gaussian-blurred step is 2.563 sigma. */
const EDGE_WIDTH_PER_SIGMA = 2.563;

/** measureNoise's two sample arrays, grown to the largest sample seen (about 1 MB at 2048 px). */
const noiseScratch = { lap: new Float64Array(0), grad: new Float64Array(0) };

/**
 * Noise sigma (fraction of full scale) from the MAD of a 5-point Laplacian inside `disk`, on
 * pixels whose central differences are small (so die edges do not count as noise).
 */
export function measureNoise(image: GrayImage, disk: Disk, maxSamples = 60_000): number {
  const { width, height, data } = image;
  const scale = 1 / fullScale(image);
  const area = Math.PI * disk.r * disk.r;
  const step = Math.max(1, Math.round(Math.sqrt(area / maxSamples)));
  const capacity = Math.ceil(area / (step * step)) + 4 * Math.ceil(disk.r) + 16;
  // Kept between calls (the gate is synchronous): every entry read below is written first.
  if (noiseScratch.lap.length < capacity) {
    noiseScratch.lap = new Float64Array(capacity);
    noiseScratch.grad = new Float64Array(capacity);
  }
  const { lap, grad } = noiseScratch;
  let n = 0;
  const y0 = Math.max(1, Math.ceil(disk.cy - disk.r));
  const y1 = Math.min(height - 2, Math.floor(disk.cy + disk.r));
  for (let y = y0; y <= y1; y += step) {
    const dy = y - disk.cy;
    const half = Math.sqrt(Math.max(0, disk.r * disk.r - dy * dy));
    const xa = Math.max(1, Math.ceil(disk.cx - half));
    const xb = Math.min(width - 2, Math.floor(disk.cx + half));
    for (let x = xa; x <= xb && n < capacity; x += step) {
      const i = y * width + x;
      const c = data[i] as number;
      const l = data[i - 1] as number;
      const r = data[i + 1] as number;
      const u = data[i - width] as number;
      const d = data[i + width] as number;
      lap[n] = Math.abs(c - 0.25 * (l + r + u + d)) * scale;
      grad[n] = Math.max(Math.abs(r - l), Math.abs(d - u)) * scale;
      n++;
    }
  }
  if (n < 16) return 0;
  // Magnitudes (>= +0, never NaN): the histogram select gives quickselect's very k-th value
  // without reordering, so the first median needs no copy and the gated one reuses `grad`.
  const first = (MAD_TO_SIGMA * quantileOfMagnitudes(lap, n, 0.5)) / LAPLACIAN_GAIN;
  const gate = 3 * Math.SQRT2 * first;
  let m = 0;
  // In place over `grad`: slot m <= i is written only after grad[i] was read. Without a
  // branch (whether a sample passes is random from one to the next): every sample is written
  // at slot m, which moves on only past those that pass.
  for (let i = 0; i < n; i++) {
    const passes = +((grad[i] as number) <= gate);
    grad[m] = lap[i] as number;
    m += passes;
  }
  if (m < n * 0.2) return first;
  return (MAD_TO_SIGMA * quantileOfMagnitudes(grad, m, 0.5)) / LAPLACIAN_GAIN;
}

/** Shares of the pixels inside `disk` at the top code and at the bottom code (8-bit steps). */
export function measureClipping(
  image: GrayImage,
  disk: Disk,
  maxSamples = 200_000,
): { saturated: number; black: number } {
  const { width, height, data } = image;
  const full = fullScale(image);
  // One 8-bit code of headroom either side, whatever the bit depth.
  const top = full - full / 255;
  const bottom = full / 255;
  const area = Math.PI * disk.r * disk.r;
  const step = Math.max(1, Math.round(Math.sqrt(area / maxSamples)));
  let n = 0;
  let saturated = 0;
  let black = 0;
  for (
    let y = Math.max(0, Math.ceil(disk.cy - disk.r));
    y <= Math.min(height - 1, disk.cy + disk.r);
    y += step
  ) {
    const dy = y - disk.cy;
    const half = Math.sqrt(Math.max(0, disk.r * disk.r - dy * dy));
    const xa = Math.max(0, Math.ceil(disk.cx - half));
    const xb = Math.min(width - 1, Math.floor(disk.cx + half));
    for (let x = xa; x <= xb; x += step) {
      const v = data[y * width + x] as number;
      n++;
      if (v >= top) saturated++;
      else if (v <= bottom) black++;
    }
  }
  return n === 0 ? { saturated: 0, black: 0 } : { saturated: saturated / n, black: black / n };
}

/**
 * Blur as the Gaussian sigma (full-resolution px) of the wafer rim, the one sharp edge every
 * wafer has: profiles across the rim along many rays are aligned on their own mid-level
 * crossing (so an out-of-round disk or a fit error does not widen them), averaged, and the
 * 10-90% rise of the mean profile is converted to sigma. Null when no rim profile is usable.
 */
export function measureRimBlur(
  image: GrayImage,
  disk: Disk,
  rim: ReadonlyArray<{ x: number; y: number; angle: number }>,
): number | null {
  const halfWindow = Math.max(8, Math.min(0.06 * disk.r, 160));
  const step = 0.5;
  const samples = Math.round((2 * halfWindow) / step) + 1;
  const binsHalf = Math.round(halfWindow / step);
  const sum = new Float64Array(2 * binsHalf + 1);
  const count = new Float64Array(2 * binsHalf + 1);
  const profile = new Float64Array(samples);
  const quarter = Math.floor(samples / 4);
  // The median's scratch: quantileInPlace reorders what it is given, the profile must stay.
  const scratch = new Float64Array(quarter);
  let used = 0;
  // Every other direction is plenty: the mean profile of ~150 rays is far below the noise.
  for (let index = 0; index < rim.length; index += 2) {
    const point = rim[index] as { x: number; y: number; angle: number };
    const dx = Math.cos(point.angle);
    const dy = Math.sin(point.angle);
    const r0 = Math.hypot(point.x - disk.cx, point.y - disk.cy);
    // The profile must stay in the frame: skip rays whose window leaves it.
    const outX = disk.cx + dx * (r0 + halfWindow);
    const outY = disk.cy + dy * (r0 + halfWindow);
    if (outX < 0 || outY < 0 || outX > image.width - 1 || outY > image.height - 1) continue;
    sampleRimProfile(image, disk.cx, disk.cy, dx, dy, r0 - halfWindow, step, samples, profile);
    scratch.set(profile.subarray(0, quarter));
    const inside = quantileInPlace(scratch, quarter, 0.5);
    scratch.set(profile.subarray(samples - quarter));
    const outside = quantileInPlace(scratch, quarter, 0.5);
    if (Math.abs(inside - outside) < 0.05) continue;
    const mid = 0.5 * (inside + outside);
    // Crossing nearest the rim point, on a profile smoothed over 1 px against noise.
    let best = -1;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let s = 2; s < samples - 2; s++) {
      const a =
        ((profile[s - 2] as number) + (profile[s - 1] as number) + (profile[s] as number)) / 3;
      const b =
        ((profile[s] as number) + (profile[s + 1] as number) + (profile[s + 2] as number)) / 3;
      if ((a - mid) * (b - mid) > 0) continue;
      const distance = Math.abs(s - binsHalf);
      if (distance < bestDistance) {
        bestDistance = distance;
        best = s;
      }
    }
    if (best < 0) continue;
    const sign = inside > outside ? 1 : -1;
    for (let s = 0; s < samples; s++) {
      const bin = s - best + binsHalf;
      if (bin < 0 || bin >= sum.length) continue;
      // Normalised so the wafer side is 1 and the chuck side 0, whichever is brighter.
      sum[bin] =
        (sum[bin] as number) +
        (sign * ((profile[s] as number) - outside)) / Math.abs(inside - outside);
      count[bin] = (count[bin] as number) + 1;
    }
    used++;
  }
  if (used < 8) return null;
  const mean: number[] = [];
  for (let b = 0; b < sum.length; b++)
    mean.push(
      (count[b] as number) > used / 2 ? (sum[b] as number) / (count[b] as number) : Number.NaN,
    );
  // Walk out from the centre to the 90% (wafer side, before) and 10% (chuck side, after) levels.
  const centre = binsHalf;
  let high = -1;
  for (let b = centre; b >= 1; b--) {
    const v = mean[b] as number;
    const w = mean[b - 1] as number;
    if (Number.isNaN(w)) break;
    if (v < 0.9 && w >= 0.9) {
      high = b - 1 + (w - 0.9) / (w - v);
      break;
    }
  }
  let low = -1;
  for (let b = centre; b < mean.length - 1; b++) {
    const v = mean[b] as number;
    const w = mean[b + 1] as number;
    if (Number.isNaN(w)) break;
    if (v > 0.1 && w <= 0.1) {
      low = b + (v - 0.1) / (v - w);
      break;
    }
  }
  if (high < 0 || low < 0) return (2 * halfWindow) / EDGE_WIDTH_PER_SIGMA;
  return ((low - high) * step) / EDGE_WIDTH_PER_SIGMA;
}

/**
 * sampleBilinear (raster.ts), the same arithmetic, in a copy of its own: V8's type feedback here
 * then sees only the frame's two pixel types, not every raster the detector samples (shared,
 * the rim profiles' samples cost about three times as much).
 */
function samplePixels(
  data: Uint8Array | Uint16Array,
  width: number,
  height: number,
  x: number,
  y: number,
): number {
  const cx = x < 0 ? 0 : Math.min(x, width - 1.001);
  const cy = y < 0 ? 0 : Math.min(y, height - 1.001);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const fx = cx - x0;
  const fy = cy - y0;
  const i = y0 * width + x0;
  const a = data[i] as number;
  const b = data[i + 1] as number;
  const c = data[i + width] as number;
  const d = data[i + width + 1] as number;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/**
 * measureRimBlur's profile of one ray, in full-scale units: samplePixels at (cx, cy) + (dx, dy)
 * t for t = from + s step, s = 0 .. samples - 1, into profile. Positions move monotonically
 * along the ray (t rises, and so does each rounded product and sum), so when both ends lie
 * inside samplePixels' clamp box every sample does, and the clamp is left out: the same reads
 * and arithmetic, hence the same values.
 */
export function sampleRimProfile(
  image: GrayImage,
  cx: number,
  cy: number,
  dx: number,
  dy: number,
  from: number,
  step: number,
  samples: number,
  profile: Float64Array,
): void {
  const { data, width, height } = image;
  const full = fullScale(image);
  const tFirst = from + 0 * step;
  const tLast = from + (samples - 1) * step;
  if (
    insideClampBox(cx + dx * tFirst, cy + dy * tFirst, width, height) &&
    insideClampBox(cx + dx * tLast, cy + dy * tLast, width, height)
  )
    for (let s = 0; s < samples; s++) {
      const t = from + s * step;
      profile[s] = samplePixelsInside(data, width, cx + dx * t, cy + dy * t) / full;
    }
  else
    for (let s = 0; s < samples; s++) {
      const t = from + s * step;
      profile[s] = samplePixels(data, width, height, cx + dx * t, cy + dy * t) / full;
    }
}

/** Whether samplePixels leaves x, y as they are: inside [0, width - 1.001] x [0, height - 1.001] (no NaN). */
function insideClampBox(x: number, y: number, width: number, height: number): boolean {
  return x >= 0 && x <= width - 1.001 && y >= 0 && y <= height - 1.001;
}

/** samplePixels at a point inside its clamp box (insideClampBox): the same value, without the clamp. */
function samplePixelsInside(
  data: Uint8Array | Uint16Array,
  width: number,
  x: number,
  y: number,
): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const i = y0 * width + x0;
  const a = data[i] as number;
  const b = data[i + 1] as number;
  const c = data[i + width] as number;
  const d = data[i + width + 1] as number;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/**
 * Along-structure test for a pixel the 8-neighbour rule did not take (a street or motif edge
 * beside it). The surface is read two pixels away on the opposite pair (left-right, up-down or
 * a diagonal) that differ least: along the edge, on the fault's side of it. The pixel is a fault
 * when it stands out of that surface by the threshold while none of its 8 neighbours carries
 * more than 1 - HOT_PIXEL_ISOLATION of the spike. What a neighbour carries is its excess (in the
 * spike's direction) over the local line through it that fits it best: the mean of the pixels
 * two steps either way (outward only along the line through the fault, whose other side is
 * the fault's other flank), in whichever of the four directions leaves the least. A neighbour on a
 * street, an edge or a corner lies on some line of its own structure and carries nothing; a
 * particle's flank, a two-pixel dot or a line ending at the pixel stands out of every line
 * through it (the particle is 3 px across: two steps out is off it), so it carries its share
 * and protects the pixel. No pixel two out may reach the fault's level either (a motif
 * finer than the test's two-pixel lines). Returns the repaired level (the mean of the fault's two neighbours
 * along the structure), or NaN when it is no fault.
 */
function faultAlongStructure(
  src: Uint8Array | Uint16Array,
  i: number,
  width: number,
  threshold: number,
  steps: readonly number[],
  neighbours: readonly number[],
): number {
  const c = src[i] as number;
  let bestGap = Number.POSITIVE_INFINITY;
  let along = 0;
  let surface = 0;
  for (const step of steps) {
    const a = src[i - 2 * step] as number;
    const b = src[i + 2 * step] as number;
    const gap = Math.abs(a - b);
    if (gap < bestGap) {
      bestGap = gap;
      along = step;
      surface = 0.5 * (a + b);
    }
  }
  const spike = c - surface;
  if (Math.abs(spike) < threshold) return Number.NaN;
  // The surface's own two pixels must agree to well within the spike (not the far side of a dot).
  if (bestGap > (1 - HOT_PIXEL_ISOLATION) * Math.abs(spike)) return Number.NaN;
  const sign = spike > 0 ? 1 : -1;
  // Not on a line of its own: on a scratch or motif line both line neighbours share the level.
  for (const step of steps) {
    const pair = 0.5 * ((src[i - step] as number) + (src[i + step] as number));
    if (sign * (c - pair) < HOT_PIXEL_OFF_LINE * Math.abs(spike)) return Number.NaN;
  }
  // Alone two pixels out as well: a motif of pads or lines two pixels apart (or any texture
  // that fine) has pixels there that carry half the spike or more; a street beside a fault
  // carries at most 40% of it (the spec's darkest street is 60% of the die level).
  const reach = HOT_PIXEL_OFF_LINE * Math.abs(spike);
  for (let dy = -2; dy <= 2; dy++) {
    for (let dx = -2; dx <= 2; dx++) {
      if (Math.max(Math.abs(dx), Math.abs(dy)) !== 2) continue;
      if (sign * ((src[i + dy * width + dx] as number) - surface) >= reach) return Number.NaN;
    }
  }
  const allowed = (1 - HOT_PIXEL_ISOLATION) * Math.abs(spike);
  for (const offset of neighbours) {
    const p = i + offset;
    const v = src[p] as number;
    // What the neighbour carries: its excess over the local line through it that fits it best.
    let carried = Number.POSITIVE_INFINITY;
    for (const step of steps) {
      // The line through the fault itself would reach the fault's other flank: read it outward.
      const through = step === offset || step === -offset;
      const line = through
        ? 0.5 * ((src[p + offset] as number) + (src[p + 2 * offset] as number))
        : 0.5 * ((src[p - 2 * step] as number) + (src[p + 2 * step] as number));
      carried = Math.min(carried, sign * (v - line));
    }
    if (carried > allowed) return Number.NaN;
  }
  return 0.5 * ((src[i - along] as number) + (src[i + along] as number));
}

const ALONG_STEPS = (width: number) => [1, width, width - 1, width + 1];
const NEIGHBOUR_OFFSETS = (width: number) => [
  -width - 1,
  -width,
  -width + 1,
  -1,
  1,
  width - 1,
  width,
  width + 1,
];

/**
 * Replaces isolated single-pixel outliers (hot or dead pixels) in a copy of the image; returns
 * the copy (or the image itself when none) and how many were replaced. A pixel is a fault when
 * it stands out of its 8 neighbours' median by the threshold while every neighbour differs from
 * it by most of that (the neighbours agree with each other), or, beside a street or motif edge
 * where the neighbours do not agree, by the along-structure test above. `noiseSigma` is a
 * fraction of full scale.
 */
export function removeHotPixels(
  image: GrayImage,
  noiseSigma: number,
): { image: GrayImage; removed: number; repaired: number[] } {
  const { width, height } = image;
  const src = image.data;
  const threshold =
    Math.max(HOT_PIXEL_SIGMAS * Math.max(noiseSigma, NOISE_FLOOR), HOT_PIXEL_MIN_STEP) *
    fullScale(image);
  const quick = threshold * HOT_PIXEL_ISOLATION;
  // Three pixels of margin: the along-structure test reads a neighbour's line two steps on.
  const count =
    src instanceof Uint8Array
      ? candidatesOf8(src, width, height, quick)
      : candidatesOf16(src, width, height, quick);
  const candidates = candidateScratch.indices;
  let out: Uint8Array | Uint16Array | null = null;
  // Indices of the pixels replaced (the gate re-bins their blocks of its working map).
  const repaired: number[] = [];
  const judge = new FaultJudge(src, width, threshold, quick);
  // Most candidates (a die edge's pixels) stand out along no axis, the judge's first test: that
  // test runs over all of them in a loop compiled for one pixel type, the judge on the rest.
  const standing =
    src instanceof Uint8Array
      ? standingOut8(src, width, quick, candidates, count)
      : standingOut16(src, width, quick, candidates, count);
  for (let c = 0; c < standing; c++) {
    const i = candidates[c] as number;
    const level = judge.repairedLevel(i);
    if (Number.isNaN(level)) continue;
    if (!out) out = src.slice();
    out[i] = Math.round(level);
    repaired.push(i);
  }
  // A frame that made millions of candidates (a tiny reach on a noisy frame) does not keep
  // their array: the kept one stays at most 4 MB (a patterned 2048 px frame needs about 0.25).
  if (candidateScratch.indices.length > KEPT_CANDIDATES)
    candidateScratch.indices = new Int32Array(0);
  return out
    ? { image: { ...image, data: out }, removed: repaired.length, repaired }
    : { image, removed: 0, repaired };
}

/*
 * The scan for candidates reads every pixel (4M at 2048 px): most pixels are within reach of
 * their left and upper neighbours, and a fault is not (it would share its level with them, and
 * two such pixels are no isolated fault). It is written once per pixel type so V8 compiles each
 * for one array type (the shared version cost 35% more on a 16-bit 2048 px wafer), and carries
 * the left neighbour along the row instead of reading it again.
 */
function candidatesOf8(src: Uint8Array, width: number, height: number, quick: number): number {
  const { reach, span } = withinReach(quick);
  // In WebAssembly SIMD where available (frame-passes.ts): the same candidates, in this order.
  const scanned = scanKernelInto(src, width, height, 3, reach, candidateScratch);
  if (scanned !== null) return scanned;
  const found: number[] = [];
  for (let y = 3; y < height - 3; y++) {
    const row = y * width;
    let left = src[row + 2] as number;
    for (let x = 3; x < width - 3; x++) {
      const i = row + x;
      const c = src[i] as number;
      const dl = c - left + reach;
      left = c;
      const du = c - (src[i - width] as number) + reach;
      if (dl >>> 0 <= span && du >>> 0 <= span) continue;
      found.push(i);
    }
  }
  return keepCandidates(found);
}

/** The scan's candidates, kept between calls (the gate is synchronous) and grown as needed. */
const candidateScratch = { indices: new Int32Array(0) };
/** The most candidates whose array is kept for the next frame (4 MB of indices). */
const KEPT_CANDIDATES = 1 << 20;

/** The JavaScript scan's candidates into candidateScratch: their count. */
function keepCandidates(found: number[]): number {
  if (candidateScratch.indices.length < found.length)
    candidateScratch.indices = new Int32Array(found.length);
  candidateScratch.indices.set(found);
  return found.length;
}

/**
 * For whole-number differences, |d| < quick is |d| <= reach, that is d + reach in [0, span]: one
 * unsigned comparison instead of two (the scan's test, about 13% faster). A quick of 0 or less
 * gives a negative span, which no unsigned value is under: every pixel is a candidate, as before.
 */
function withinReach(quick: number): { reach: number; span: number } {
  const reach = Math.ceil(quick) - 1;
  return { reach, span: 2 * reach };
}

/** candidatesOf8 for 16-bit pixels (the same code, compiled for the other array type). */
function candidatesOf16(src: Uint16Array, width: number, height: number, quick: number): number {
  const { reach, span } = withinReach(quick);
  const scanned = scanKernelInto(src, width, height, 3, reach, candidateScratch);
  if (scanned !== null) return scanned;
  const found: number[] = [];
  for (let y = 3; y < height - 3; y++) {
    const row = y * width;
    let left = src[row + 2] as number;
    for (let x = 3; x < width - 3; x++) {
      const i = row + x;
      const c = src[i] as number;
      const dl = c - left + reach;
      left = c;
      const du = c - (src[i - width] as number) + reach;
      if (dl >>> 0 <= span && du >>> 0 <= span) continue;
      found.push(i);
    }
  }
  return keepCandidates(found);
}

/**
 * Packs to the front of `candidates` (in their order) those that stand out of both neighbours,
 * on one side, by at least `quick` along a row, a column or a diagonal (FaultJudge's first
 * test: a pixel that does not is no fault), and returns how many. 8-bit pixels.
 */
function standingOut8(
  src: Uint8Array,
  width: number,
  quick: number,
  candidates: Int32Array,
  count: number,
): number {
  let kept = 0;
  for (let c = 0; c < count; c++) {
    const i = candidates[c] as number;
    const v = src[i] as number;
    const dl = v - (src[i - 1] as number);
    const dr = v - (src[i + 1] as number);
    const du = v - (src[i - width] as number);
    const dd = v - (src[i + width] as number);
    const da = v - (src[i - width - 1] as number);
    const db = v - (src[i + width + 1] as number);
    const dc = v - (src[i - width + 1] as number);
    const de = v - (src[i + width - 1] as number);
    if (
      (dr * dl > 0 && Math.abs(dl) >= quick && Math.abs(dr) >= quick) ||
      (du * dd > 0 && Math.abs(du) >= quick && Math.abs(dd) >= quick) ||
      (da * db > 0 && Math.abs(da) >= quick && Math.abs(db) >= quick) ||
      (dc * de > 0 && Math.abs(dc) >= quick && Math.abs(de) >= quick)
    )
      candidates[kept++] = i;
  }
  return kept;
}

/** standingOut8 for 16-bit pixels (the same code, compiled for the other array type). */
function standingOut16(
  src: Uint16Array,
  width: number,
  quick: number,
  candidates: Int32Array,
  count: number,
): number {
  let kept = 0;
  for (let c = 0; c < count; c++) {
    const i = candidates[c] as number;
    const v = src[i] as number;
    const dl = v - (src[i - 1] as number);
    const dr = v - (src[i + 1] as number);
    const du = v - (src[i - width] as number);
    const dd = v - (src[i + width] as number);
    const da = v - (src[i - width - 1] as number);
    const db = v - (src[i + width + 1] as number);
    const dc = v - (src[i - width + 1] as number);
    const de = v - (src[i + width - 1] as number);
    if (
      (dr * dl > 0 && Math.abs(dl) >= quick && Math.abs(dr) >= quick) ||
      (du * dd > 0 && Math.abs(du) >= quick && Math.abs(dd) >= quick) ||
      (da * db > 0 && Math.abs(da) >= quick && Math.abs(db) >= quick) ||
      (dc * de > 0 && Math.abs(dc) >= quick && Math.abs(de) >= quick)
    )
      candidates[kept++] = i;
  }
  return kept;
}

/** Judges one candidate pixel of the scan: the repaired level of a fault, or NaN. */
class FaultJudge {
  private readonly neighbours = new Float64Array(8);
  private readonly steps: readonly number[];
  private readonly offsets: readonly number[];
  private readonly src: Uint8Array | Uint16Array;
  private readonly width: number;
  private readonly threshold: number;
  private readonly quick: number;
  constructor(src: Uint8Array | Uint16Array, width: number, threshold: number, quick: number) {
    this.src = src;
    this.width = width;
    this.threshold = threshold;
    this.quick = quick;
    this.steps = ALONG_STEPS(width);
    this.offsets = NEIGHBOUR_OFFSETS(width);
  }

  repairedLevel(i: number): number {
    const { src, width, quick, threshold } = this;
    const c = src[i] as number;
    const dl = c - (src[i - 1] as number);
    const du = c - (src[i - width] as number);
    const dr = c - (src[i + 1] as number);
    const dd = c - (src[i + width] as number);
    // A fault stands out of its neighbours along at least one axis (along the structure).
    const horizontal = dr * dl > 0 && Math.abs(dl) >= quick && Math.abs(dr) >= quick;
    const vertical = du * dd > 0 && Math.abs(du) >= quick && Math.abs(dd) >= quick;
    if (!horizontal && !vertical) {
      const da = c - (src[i - width - 1] as number);
      const db = c - (src[i + width + 1] as number);
      const dc = c - (src[i - width + 1] as number);
      const de = c - (src[i + width - 1] as number);
      const diagonal =
        (da * db > 0 && Math.abs(da) >= quick && Math.abs(db) >= quick) ||
        (dc * de > 0 && Math.abs(dc) >= quick && Math.abs(de) >= quick);
      if (!diagonal) return Number.NaN;
    }
    if (horizontal) {
      const n = this.neighbours;
      n[0] = src[i - 1] as number;
      n[1] = src[i + 1] as number;
      n[2] = src[i - width - 1] as number;
      n[3] = src[i - width] as number;
      n[4] = src[i - width + 1] as number;
      n[5] = src[i + width - 1] as number;
      n[6] = src[i + width] as number;
      n[7] = src[i + width + 1] as number;
      // A typed array sorts numerically in place (no copy per candidate).
      n.sort();
      const med = 0.5 * ((n[3] as number) + (n[4] as number));
      const spike = Math.abs(c - med);
      const nearest = c > med ? c - (n[7] as number) : (n[0] as number) - c;
      if (spike >= threshold && nearest >= HOT_PIXEL_ISOLATION * spike) return med;
    }
    return faultAlongStructure(src, i, width, threshold, this.steps, this.offsets);
  }
}
