// Finds the wafer disk for the quality gate: Otsu split of a small overview, rim scanned inward along rays, circle fitted.
import { blockSums } from "../../lib/block-sums.ts";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { bin2AndBlockMeansKernel, blockMeansKernel } from "../detector/frame-passes.ts";
import { fitCircleAlgebraic } from "../detector/geometry.ts";
import type { DiskSeed } from "../detector/locate.ts";
import { findRimBySteps } from "../detector/locate-steps.ts";
import { type FloatMap, quantileInPlace } from "../detector/raster.ts";
import { quantileOfMagnitudes } from "../detector/select.ts";
import { workingMap, workingScale } from "../detector/stages/input.ts";
import {
  DIAMETER_FRACTION_RANGE,
  MAX_CENTRE_OFFSET_FRACTION,
  MAX_RIM_RESIDUAL,
  MIN_CHUCK_CONTRAST,
  MIN_RIM_COVERAGE,
  MIN_WAFER_INTERIOR,
} from "./thresholds.ts";

/** The overview the rim is scanned on has about this many pixels on its shorter side. */
const OVERVIEW_SIDE = 512;
/** Directions the rim is looked for along. */
export const RIM_RAYS = 360;
/** A run of this many overview pixels of the wafer's class marks the rim (not one noisy pixel). */
const RIM_RUN = 3;

export interface Overview {
  width: number;
  height: number;
  /** Full-resolution pixels per overview pixel. */
  factor: number;
  /** Levels as fractions of full scale. */
  data: Float32Array;
}

export interface RimPoint {
  angle: number;
  x: number;
  y: number;
}

export interface DiskFit {
  /** Level between the wafer and chuck classes, fraction of full scale. */
  contrast: number;
  /** Otsu threshold between them, fraction of full scale. */
  threshold: number;
  /** Rim points found (full-resolution pixels); clipped rays are left out. */
  rim: RimPoint[];
  /** Share of the rays on which a rim was found. */
  coverage: number;
  circle: { cx: number; cy: number; r: number } | null;
  /** RMS radial residual of the inlier rim points, fraction of r. */
  residual: number | null;
  /** Rim points kept by the robust refit. */
  inliers: RimPoint[];
  /** Share of the disk (0.9 of its radius) that is of the wafer's brightness class. */
  interior: number | null;
  /**
   * How the rim was found: by one global level (Otsu's split) or by the rim's local step
   * (vignetting), and, for the level, the wafer's class and the two class means (fractions of
   * full scale).
   */
  by: "level" | "steps";
  waferIsBright: boolean;
  waferLevel: number;
  chuckLevel: number;
}

/**
 * The overview: mean levels of factor x factor blocks. From `work` (binImage of the same frame)
 * when its blocks tile the overview's and its scale is a power of two: each binned value is
 * then a block sum over scale^2 exactly (binImage's sums are whole numbers below 2^24, and
 * dividing by a power of two is exact), so the overview's block sums, whole numbers, come out
 * the same and so does every level. Otherwise (1536 px frames: factor 3 on scale 2) the frame
 * is read again.
 */
export function overviewOf(image: GrayImage, work?: FloatMap): Overview {
  const factor = overviewFactor(image);
  const norm = 1 / (factor * factor * fullScale(image));
  if (work && exactBlocks(work.scale, factor)) return overviewOfMap(work, factor, norm);
  // In WebAssembly SIMD where available (the same whole numbers, scaled band by band as below),
  // else in JavaScript.
  const means = blockMeansKernel(image, factor, norm);
  if (means) return { ...means, factor };
  const { width, height, sums } = blockSums(image, factor);
  const data = new Float32Array(width * height);
  for (let k = 0; k < data.length; k++) data[k] = (sums[k] as number) * norm;
  return { width, height, factor, data };
}

/**
 * The working map of `image` (binned into `buffer`, as workingMap) and overviewOf(image, map):
 * where the overview's blocks do not tile the map's and the map is a 2 x 2 binning, both from
 * one pass over the frame (bin2AndBlockMeansKernel: the same values, the frame copied into the
 * kernel's memory once instead of twice).
 */
export function workingMapAndOverview(
  image: GrayImage,
  buffer: Float32Array,
): { work: FloatMap; overview: Overview } {
  const factor = overviewFactor(image);
  if (workingScale(image) === 2 && !exactBlocks(2, factor)) {
    const norm = 1 / (factor * factor * fullScale(image));
    const means = bin2AndBlockMeansKernel(image, buffer, factor, norm);
    if (means) {
      const work = {
        width: Math.floor(image.width / 2),
        height: Math.floor(image.height / 2),
        scale: 2,
        data: buffer,
      };
      return { work, overview: { ...means, factor } };
    }
  }
  const work = workingMap(image, buffer);
  return { work, overview: overviewOf(image, work) };
}

function overviewFactor(image: GrayImage): number {
  return Math.max(1, Math.floor(Math.min(image.width, image.height) / OVERVIEW_SIDE));
}

function exactBlocks(scale: number, factor: number): boolean {
  const powerOfTwo = Number.isInteger(scale) && scale >= 1 && (scale & (scale - 1)) === 0;
  return powerOfTwo && factor % scale === 0;
}

/** overviewOf from the working map: each block's sum is the sum of its binned values times scale^2. */
function overviewOfMap(work: FloatMap, factor: number, norm: number): Overview {
  const per = factor / work.scale;
  const area = work.scale * work.scale;
  // floor(floor(w / s) / k) = floor(w / (s k)): the same blocks as blockSums takes of the frame.
  const width = Math.floor(work.width / per);
  const height = Math.floor(work.height / per);
  const src = work.data;
  const data = new Float32Array(width * height);
  if (per === 2) {
    overviewOfPairs(work, width, height, area, norm, data);
    return { width, height, factor, data };
  }
  const sums = new Float64Array(width);
  for (let by = 0; by < height; by++) {
    sums.fill(0);
    for (let dy = 0; dy < per; dy++) {
      let p = (by * per + dy) * work.width;
      for (let bx = 0; bx < width; bx++) {
        let sum = sums[bx] as number;
        for (let dx = 0; dx < per; dx++) sum += src[p++] as number;
        sums[bx] = sum;
      }
    }
    const row = by * width;
    for (let bx = 0; bx < width; bx++) data[row + bx] = (sums[bx] as number) * area * norm;
  }
  return { width, height, factor, data };
}

/**
 * overviewOfMap for two map pixels a side (a 2048 px frame: scale 2, factor 4), each block read
 * straight from its two rows: the same sum in the same order (left, right of the upper row, then
 * of the lower), without the general loop's array of partial sums. Every binned value is a whole
 * number over 4 and each sum is exact in a double anyway, so the order could not change a value.
 */
function overviewOfPairs(
  work: FloatMap,
  width: number,
  height: number,
  area: number,
  norm: number,
  data: Float32Array,
): void {
  const src = work.data;
  const stride = work.width;
  for (let by = 0; by < height; by++) {
    let upper = 2 * by * stride;
    let lower = upper + stride;
    const row = by * width;
    for (let bx = 0; bx < width; bx++) {
      let sum = 0;
      sum += src[upper] as number;
      sum += src[upper + 1] as number;
      sum += src[lower] as number;
      sum += src[lower + 1] as number;
      upper += 2;
      lower += 2;
      // (sum * area) * norm, as the general loop rounds it.
      data[row + bx] = sum * area * norm;
    }
  }
}

/** otsu's counts, kept between calls (cleared at each): whole numbers counted in 32-bit integers. */
const otsuCounts = new Int32Array(256);

/** Otsu's threshold over [0, 1] and the means of the two classes it separates. */
export function otsu(data: Float32Array): { threshold: number; low: number; high: number } {
  const bins = 256;
  const counts = otsuCounts;
  counts.fill(0);
  const length = data.length;
  for (let i = 0; i < length; i++) {
    const x = (data[i] as number) * bins;
    // Truncation is the floor on [0, bins): the common case without the clamps' calls.
    const b = x >= 0 && x < bins ? x | 0 : Math.min(bins - 1, Math.max(0, Math.floor(x)));
    counts[b] = (counts[b] as number) + 1;
  }
  const hist = Float64Array.from(counts);
  const total = data.length;
  let sumAll = 0;
  for (let b = 0; b < bins; b++) sumAll += b * (hist[b] as number);
  let weightLow = 0;
  let sumLow = 0;
  let best = -1;
  let bestBin = 0;
  for (let b = 0; b < bins - 1; b++) {
    weightLow += hist[b] as number;
    sumLow += b * (hist[b] as number);
    const weightHigh = total - weightLow;
    if (weightLow === 0 || weightHigh === 0) continue;
    const meanLow = sumLow / weightLow;
    const meanHigh = (sumAll - sumLow) / weightHigh;
    const between = weightLow * weightHigh * (meanLow - meanHigh) ** 2;
    if (between > best) {
      best = between;
      bestBin = b;
    }
  }
  if (best < 0) {
    // One level everywhere: there are not two classes to tell apart.
    const mean = (sumAll / Math.max(1, total) + 0.5) / bins;
    return { threshold: mean, low: mean, high: mean };
  }
  let wl = 0;
  let sl = 0;
  for (let b = 0; b <= bestBin; b++) {
    wl += hist[b] as number;
    sl += b * (hist[b] as number);
  }
  const wh = total - wl;
  const low = wl > 0 ? (sl / wl + 0.5) / bins : 0;
  const high = wh > 0 ? ((sumAll - sl) / wh + 0.5) / bins : 1;
  return { threshold: (bestBin + 1) / bins, low, high };
}

/** Least-squares (Kasa) circle through points: the detector's algebraic fit, on point objects. */
export function fitCircle(points: ReadonlyArray<{ x: number; y: number }>) {
  if (points.length < 3) return null;
  return fitCircleAlgebraic(
    points.map((p) => p.x),
    points.map((p) => p.y),
  );
}

function rmsResidual(points: ReadonlyArray<RimPoint>, c: { cx: number; cy: number; r: number }) {
  let sum = 0;
  for (const p of points) sum += (Math.hypot(p.x - c.cx, p.y - c.cy) - c.r) ** 2;
  return Math.sqrt(sum / Math.max(1, points.length)) / c.r;
}

/** Circle through the rim points, refitted without the notch, chips and anything else off it. */
function robustCircle(
  rim: RimPoint[],
  factor: number,
): { circle: { cx: number; cy: number; r: number } | null; inliers: RimPoint[] } {
  let circle = fitCircle(rim);
  let inliers = rim;
  if (circle) {
    const fitted = circle;
    const deviations = rim.map((p) =>
      Math.abs(Math.hypot(p.x - fitted.cx, p.y - fitted.cy) - fitted.r),
    );
    const sorted = [...deviations].sort((a, b) => a - b);
    const cut = Math.max(1.5 * factor, 3 * (sorted[Math.floor(sorted.length * 0.5)] ?? 0) * 1.4826);
    const keep = rim.filter((_, i) => (deviations[i] as number) <= cut);
    const refit = keep.length >= 3 ? fitCircle(keep) : null;
    if (refit) {
      circle = refit;
      inliers = keep;
    }
  }
  return { circle, inliers };
}

/**
 * Scans each ray from the frame edge inward (so defects inside the wafer never matter) for the
 * first run of wafer-class pixels; rays that start on the wafer (a disk leaving the frame, or
 * texture everywhere) find no rim.
 */
function fitDiskByLevel(overview: Overview): DiskFit {
  const { width, height, data, factor } = overview;
  const split = otsu(data);
  // The wafer is the class at the frame centre (the spec keeps its centre within 3% of it).
  const cx0 = (width - 1) / 2;
  const cy0 = (height - 1) / 2;
  const half = Math.max(1, Math.round(Math.min(width, height) * 0.1));
  const central = new Float32Array((2 * half + 1) * (2 * half + 1));
  let n = 0;
  let lowest = Number.POSITIVE_INFINITY;
  for (let y = Math.round(cy0 - half); y <= Math.round(cy0 + half); y++) {
    for (let x = Math.round(cx0 - half); x <= Math.round(cx0 + half); x++) {
      const v = data[y * width + x] as number;
      central[n++] = v;
      if (v < lowest) lowest = v;
    }
  }
  // Block means are never negative: the faster selection then gives quantileInPlace's value
  // (the same rank of the same values; it falls back to quickselect on a -0 or NaN itself).
  const centreLevel =
    lowest >= 0 ? quantileOfMagnitudes(central, n, 0.5) : quantileInPlace(central, n, 0.5);
  const waferBright = centreLevel >= split.threshold;
  const contrast = split.high - split.low;
  const isWafer = (v: number) => (waferBright ? v >= split.threshold : v < split.threshold);
  const rim: RimPoint[] = [];
  const maxReach = Math.hypot(width, height) / 2;
  for (let ray = 0; ray < RIM_RAYS; ray++) {
    const angle = (2 * Math.PI * ray) / RIM_RAYS;
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    // Last step still inside the frame along this ray.
    let reach = maxReach;
    if (dx > 1e-9) reach = Math.min(reach, (width - 1 - cx0) / dx);
    if (dx < -1e-9) reach = Math.min(reach, -cx0 / dx);
    if (dy > 1e-9) reach = Math.min(reach, (height - 1 - cy0) / dy);
    if (dy < -1e-9) reach = Math.min(reach, -cy0 / dy);
    const sample = (t: number) => nearestOnRay(data, width, cx0, cy0, dx, dy, t);
    if (isWafer(sample(reach))) continue;
    const found = firstWaferRun(data, width, cx0, cy0, dx, dy, reach, split.threshold, waferBright);
    if (found < 0) continue;
    // Sub-pixel: where the level crosses the threshold between the last chuck and first wafer sample.
    const outer = sample(found + 1);
    const inner = sample(found);
    const frac = inner !== outer ? (inner - split.threshold) / (inner - outer) : 0.5;
    const t = found + Math.min(1, Math.max(0, frac));
    // Overview pixel centres sit at factor*(i + 0.5) - 0.5 in full-resolution pixels.
    rim.push({
      angle,
      x: (cx0 + dx * t + 0.5) * factor - 0.5,
      y: (cy0 + dy * t + 0.5) * factor - 0.5,
    });
  }
  const coverage = rim.length / RIM_RAYS;
  const { circle, inliers } = robustCircle(rim, factor);
  const residual = circle ? rmsResidual(inliers, circle) : null;
  // A wafer is one surface: inside its rim nearly everything is of the wafer's class.
  const interior = circle ? interiorShare(overview, circle, split.threshold, waferBright) : null;
  return {
    contrast,
    threshold: split.threshold,
    rim,
    coverage,
    circle,
    residual,
    inliers,
    interior,
    by: "level",
    waferIsBright: waferBright,
    waferLevel: waferBright ? split.high : split.low,
    chuckLevel: waferBright ? split.low : split.high,
  };
}

/** The overview's value nearest the point t along the ray from (cx0, cy0) in direction (dx, dy). */
function nearestOnRay(
  data: Float32Array,
  width: number,
  cx0: number,
  cy0: number,
  dx: number,
  dy: number,
  t: number,
): number {
  const x = Math.round(cx0 + dx * t);
  const y = Math.round(cy0 + dy * t);
  return data[y * width + x] as number;
}

/**
 * fitDiskByLevel's scan of one ray from `reach` inwards in steps of 1: the t at which the
 * first run of RIM_RUN samples of the wafer's class ends, plus RIM_RUN - 1 (its outer end), or
 * -1; a function of its own rather than calls of two closures per sample.
 */
function firstWaferRun(
  data: Float32Array,
  width: number,
  cx0: number,
  cy0: number,
  dx: number,
  dy: number,
  reach: number,
  threshold: number,
  waferBright: boolean,
): number {
  let run = 0;
  for (let t = reach; t >= 0; t -= 1) {
    const v = nearestOnRay(data, width, cx0, cy0, dx, dy, t);
    if (waferBright ? v >= threshold : v < threshold) {
      run++;
      if (run >= RIM_RUN) return t + RIM_RUN - 1;
    } else run = 0;
  }
  return -1;
}

/**
 * Share of the overview's pixels (every other row and column) within 0.9 of the circle's radius
 * that are of the wafer's class; null when none lies in the frame.
 */
export function interiorShare(
  overview: Overview,
  circle: { cx: number; cy: number; r: number },
  threshold: number,
  waferBright: boolean,
): number | null {
  const { width, height, data, factor } = overview;
  const r = (0.9 * circle.r) / factor;
  const ocx = (circle.cx + 0.5) / factor - 0.5;
  const ocy = (circle.cy + 0.5) / factor - 0.5;
  let inside = 0;
  let total = 0;
  for (let y = Math.max(0, Math.ceil(ocy - r)); y <= Math.min(height - 1, ocy + r); y += 2) {
    const half = Math.sqrt(Math.max(0, r * r - (y - ocy) ** 2));
    const from = Math.max(0, Math.ceil(ocx - half));
    const to = Math.min(width - 1, ocx + half);
    if (from > to) continue;
    total += Math.floor((to - from) / 2) + 1;
    inside += waferClassOnRow(data, y * width, from, to, threshold, waferBright);
  }
  return total > 0 ? inside / total : null;
}

/**
 * How many of data[row + x], x = from, from + 2, ... <= to, are of the wafer's class (at or
 * above the threshold for a bright wafer, below it for a dark one): fitDiskByLevel's interior
 * test, a loop per class instead of a call of the class test per pixel. `to` may be fractional.
 */
function waferClassOnRow(
  data: Float32Array,
  row: number,
  from: number,
  to: number,
  threshold: number,
  waferBright: boolean,
): number {
  let count = 0;
  if (waferBright) {
    for (let x = from; x <= to; x += 2) if ((data[row + x] as number) >= threshold) count++;
  } else {
    for (let x = from; x <= to; x += 2) if ((data[row + x] as number) < threshold) count++;
  }
  return count;
}

/**
 * Whether a fit is a disk the gate would pass on its outline and surface: its size and centre
 * within the gate's ranges of the spec's (assessQuality reports them), and, where judged, its
 * inside of the wafer's brightness. A global level that splits a frame-centred vignette rather
 * than wafer from chuck fits a circle too, one the spec cannot hold (a disk larger than the
 * frame); the rim's local step is then asked before the image is called unusable.
 */
function specDisk(overview: Overview, fit: Pick<DiskFit, "circle" | "interior">): boolean {
  const { circle } = fit;
  if (!circle) return false;
  const { width, height, factor } = overview;
  const shorter = Math.min(width, height) * factor;
  const diameter = (2 * circle.r) / shorter;
  const offset =
    Math.hypot(circle.cx - (width * factor - 1) / 2, circle.cy - (height * factor - 1) / 2) /
    shorter;
  return (
    diameter >= DIAMETER_FRACTION_RANGE[0] &&
    diameter <= DIAMETER_FRACTION_RANGE[1] &&
    offset <= MAX_CENTRE_OFFSET_FRACTION &&
    (fit.interior === null || fit.interior >= MIN_WAFER_INTERIOR)
  );
}

/**
 * The disk: by one global level first; when that finds no disk (two classes closer than the
 * spec allows, or a rim on too few rays), by the rim's local step along rays from the frame
 * centre. Vignetting centred on the frame (+-12%) can darken the chuck in the corners to the
 * wafer's own level, so that no global level separates them, while the rim is still a step of
 * most of the spec's 20% of full scale wherever it lies.
 */
export function fitDisk(overview: Overview): DiskFit {
  const byLevel = fitDiskByLevel(overview);
  if (
    byLevel.circle &&
    byLevel.contrast >= MIN_CHUCK_CONTRAST &&
    byLevel.inliers.length / RIM_RAYS >= MIN_RIM_COVERAGE &&
    specDisk(overview, byLevel)
  )
    return byLevel;
  const { width, height, data, factor } = overview;
  const steps = findRimBySteps(
    data,
    width,
    height,
    { x: (width - 1) / 2, y: (height - 1) / 2 },
    RIM_RAYS,
    MIN_CHUCK_CONTRAST,
  );
  const rim: RimPoint[] = [];
  for (let i = 0; i < RIM_RAYS; i++) {
    const t = steps.radii[i] as number;
    if (!Number.isFinite(t)) continue;
    const angle = steps.angles[i] as number;
    rim.push({
      angle,
      x: ((width - 1) / 2 + Math.cos(angle) * t + 0.5) * factor - 0.5,
      y: ((height - 1) / 2 + Math.sin(angle) * t + 0.5) * factor - 0.5,
    });
  }
  const { circle, inliers } = robustCircle(rim, factor);
  // Only a better answer replaces the global level's (never on frames where both fail): more
  // rim points, or a disk the spec allows where the level found none.
  if (!circle) return byLevel;
  const stepsFit = { circle, interior: null };
  const moreRim = inliers.length > byLevel.inliers.length;
  const allowedWhereLevelIsNot = specDisk(overview, stepsFit) && !specDisk(overview, byLevel);
  if (!moreRim && !allowedWhereLevelIsNot) return byLevel;
  return {
    contrast: steps.contrast,
    threshold: byLevel.threshold,
    rim,
    coverage: rim.length / RIM_RAYS,
    circle,
    residual: rmsResidual(inliers, circle),
    inliers,
    // One surface by one level cannot be judged under such vignetting; the outline (residual,
    // diameter, centre) and the noise and clipping measures still are.
    interior: null,
    by: "steps",
    waferIsBright: steps.waferIsBright,
    waferLevel: Number.NaN,
    chuckLevel: Number.NaN,
  };
}

/**
 * The disk handed to locate as the start of its own trace (locate.ts DiskSeed), or null. Only
 * a disk found by one global level, that the gate would pass on its outline (contrast, rim
 * coverage, size, centre, roundness, one surface inside): locate traces the rim at a level
 * between that level's two class means. Under vignetting (the rim's local step) locate finds
 * the disk itself, with a trace level per direction.
 */
export function diskSeed(overview: Overview, fit: DiskFit): DiskSeed | null {
  const { circle } = fit;
  if (fit.by !== "level" || !circle) return null;
  const passes =
    fit.contrast >= MIN_CHUCK_CONTRAST &&
    fit.inliers.length / RIM_RAYS >= MIN_RIM_COVERAGE &&
    fit.residual !== null &&
    fit.residual <= MAX_RIM_RESIDUAL &&
    specDisk(overview, fit);
  if (!passes) return null;
  return {
    circle: { cx: circle.cx, cy: circle.cy, r: circle.r },
    pixelPx: overview.factor,
    waferIsBright: fit.waferIsBright,
    waferLevel: fit.waferLevel,
    chuckLevel: fit.chuckLevel,
  };
}

/**
 * The gate's disk of `image` as a seed for locate, from the working map as the gate takes it
 * (overviewOf, fitDisk): what detect() computes when no gate handed it one, so that a gated
 * and an ungated detection of the same pixels start from the same seed. `overview`, when
 * given, is overviewOf(image, work) taken already (workingMapAndOverview).
 */
export function diskSeedOf(image: GrayImage, work: FloatMap, overview?: Overview): DiskSeed | null {
  const taken = overview ?? overviewOf(image, work);
  return diskSeed(taken, fitDisk(taken));
}
