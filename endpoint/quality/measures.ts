// The gate's pixel measures on the found disk: noise sigma, clipped fractions, rim blur, and hot-pixel removal.
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { type DiskRegion, LAPLACIAN_GAIN, MAD_TO_SIGMA } from "../detector/noise.ts";
import { quantileInPlace, sampleBilinear } from "../detector/raster.ts";
import {
  HOT_PIXEL_ISOLATION,
  HOT_PIXEL_MIN_STEP,
  HOT_PIXEL_SIGMAS,
  NOISE_FLOOR,
} from "./thresholds.ts";

/** The disk the gate measures on: the same shape the detector's noise estimate takes. */
export type Disk = DiskRegion;
/** 10-90% width of a Gaussian-blurred step is 2.563 sigma. */
const EDGE_WIDTH_PER_SIGMA = 2.563;

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
  const lap = new Float64Array(capacity);
  const grad = new Float64Array(capacity);
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
  const work = lap.slice(0, n);
  const first = (MAD_TO_SIGMA * quantileInPlace(work, n, 0.5)) / LAPLACIAN_GAIN;
  const gate = 3 * Math.SQRT2 * first;
  let m = 0;
  for (let i = 0; i < n; i++) if ((grad[i] as number) <= gate) work[m++] = lap[i] as number;
  if (m < n * 0.2) return first;
  return (MAD_TO_SIGMA * quantileInPlace(work, m, 0.5)) / LAPLACIAN_GAIN;
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
  const full = fullScale(image);
  const halfWindow = Math.max(8, Math.min(0.06 * disk.r, 160));
  const step = 0.5;
  const samples = Math.round((2 * halfWindow) / step) + 1;
  const binsHalf = Math.round(halfWindow / step);
  const sum = new Float64Array(2 * binsHalf + 1);
  const count = new Float64Array(2 * binsHalf + 1);
  const profile = new Float64Array(samples);
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
    for (let s = 0; s < samples; s++) {
      const t = r0 - halfWindow + s * step;
      profile[s] =
        sampleBilinear(image.data, image.width, image.height, disk.cx + dx * t, disk.cy + dy * t) /
        full;
    }
    const quarter = Math.floor(samples / 4);
    const inside = quantileInPlace(profile.slice(0, quarter), quarter, 0.5);
    const outside = quantileInPlace(profile.slice(samples - quarter), quarter, 0.5);
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
 * Replaces isolated single-pixel outliers (hot or dead pixels) by the median of their 8
 * neighbours, in a copy of the image; returns the copy (or the image itself when none) and how
 * many were replaced. `noiseSigma` is a fraction of full scale.
 */
export function removeHotPixels(
  image: GrayImage,
  noiseSigma: number,
): { image: GrayImage; removed: number } {
  const { width, height } = image;
  const src = image.data;
  const threshold =
    Math.max(HOT_PIXEL_SIGMAS * Math.max(noiseSigma, NOISE_FLOOR), HOT_PIXEL_MIN_STEP) *
    fullScale(image);
  const quick = threshold * HOT_PIXEL_ISOLATION;
  let out: Uint8Array | Uint16Array | null = null;
  let removed = 0;
  const n = new Float64Array(8);
  for (let y = 1; y < height - 1; y++) {
    const row = y * width;
    let x = 1;
    while (x < width - 1) {
      const i = row + x;
      const c = src[i] as number;
      const right = src[i + 1] as number;
      // A step below `quick` between this pixel and the next rules out both: this one by its
      // right neighbour, the next by its left one. Most steps are small: two pixels per test.
      const dr = c - right;
      if (dr < quick && dr > -quick) {
        x += 2;
        continue;
      }
      x += 1;
      // Most pixels fail on their left or right neighbour; only then look at all eight.
      const dl = c - (src[i - 1] as number);
      if (dl < quick && dl > -quick) continue;
      if (dr * dl <= 0) continue;
      n[0] = src[i - 1] as number;
      n[1] = src[i + 1] as number;
      n[2] = src[i - width - 1] as number;
      n[3] = src[i - width] as number;
      n[4] = src[i - width + 1] as number;
      n[5] = src[i + width - 1] as number;
      n[6] = src[i + width] as number;
      n[7] = src[i + width + 1] as number;
      const sorted = Array.from(n).sort((a, b) => a - b);
      const med = 0.5 * ((sorted[3] as number) + (sorted[4] as number));
      const spike = Math.abs(c - med);
      if (spike < threshold) continue;
      const nearest = c > med ? c - (sorted[7] as number) : (sorted[0] as number) - c;
      if (nearest < HOT_PIXEL_ISOLATION * spike) continue;
      if (!out) out = src.slice();
      out[i] = Math.round(med);
      removed++;
    }
  }
  return out ? { image: { ...image, data: out }, removed } : { image, removed: 0 };
}
