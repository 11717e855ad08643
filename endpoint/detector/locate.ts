// Finding the wafer disk: chuck/wafer threshold, rim points along radial rays, robust circle fit.

import type { GrayImage } from "../../lib/gray-image.ts";
import { DIAMETER_FRACTION_RANGE } from "../quality/thresholds.ts";
import { WaferNotFoundError } from "./errors.ts";
import { type Circle, fitCircleRobust } from "./geometry.ts";
import { binMap, type FloatMap, sampleBilinear } from "./raster.ts";
import { COARSE_TRACE, RIM, SEEDED_TRACE } from "./thresholds.ts";

export interface RimProfile {
  /** Ray angles in radians, clockwise from image +x (image y points down). */
  angles: Float64Array;
  /** Measured rim radius per ray (full-resolution px); NaN where the ray saw no rim. */
  radii: Float64Array;
}

export interface WaferLocation {
  circle: Circle;
  /** Rim radii per ray about the fitted circle's centre, sorted by angle. */
  rim: RimProfile;
  /** Mean wafer and chuck levels (native units) the rim was traced between. */
  waferLevel: number;
  chuckLevel: number;
}

/** Otsu's threshold of a float raster, computed on a 256-bin histogram between its extremes. */
export function otsuThreshold(values: Float32Array): {
  threshold: number;
  separation: number;
  lowMean: number;
  highMean: number;
} {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const bins = 256;
  const hist = new Float64Array(bins);
  const span = max - min || 1;
  for (let i = 0; i < values.length; i++) {
    const x = (((values[i] as number) - min) / span) * bins;
    // Truncation is the floor on [0, bins): the common case without the clamp's calls.
    const b = x >= 0 && x < bins ? x | 0 : Math.min(bins - 1, Math.floor(x));
    hist[b] = (hist[b] as number) + 1;
  }
  const total = values.length;
  let sumAll = 0;
  for (let b = 0; b < bins; b++) sumAll += b * (hist[b] as number);
  let weightBelow = 0;
  let sumBelow = 0;
  let best = -1;
  let bestBin = 0;
  let bestMeans = [0, 0];
  for (let b = 0; b < bins; b++) {
    weightBelow += hist[b] as number;
    if (weightBelow === 0) continue;
    const weightAbove = total - weightBelow;
    if (weightAbove === 0) break;
    sumBelow += b * (hist[b] as number);
    const meanBelow = sumBelow / weightBelow;
    const meanAbove = (sumAll - sumBelow) / weightAbove;
    const between = weightBelow * weightAbove * (meanBelow - meanAbove) ** 2;
    if (between > best) {
      best = between;
      bestBin = b;
      bestMeans = [meanBelow, meanAbove];
    }
  }
  const toValue = (bin: number) => min + ((bin + 0.5) / bins) * span;
  return {
    threshold: toValue(bestBin + 0.5),
    separation: toValue(bestMeans[1] as number) - toValue(bestMeans[0] as number),
    lowMean: toValue(bestMeans[0] as number),
    highMean: toValue(bestMeans[1] as number),
  };
}

/**
 * Bilinear sample at (x, y), clamped to the frame: sampleBilinear's arithmetic, in a copy of
 * its own so that V8's type feedback here sees only the rays' rasters (the image and the
 * overview), not every raster the detector samples.
 */
function sampleRay(
  data: ArrayLike<number>,
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
 * Rays from `centre`, each traced to its outermost crossing from wafer to chuck and refined
 * to the midpoint of the local inside/outside levels so that illumination falloff does not
 * bias the radius. A ray is sampled from its outer end inwards, only as far as the crossing
 * and the six samples inside it that the refinement reads (the crossing lies in the outer
 * part of the reach): the same samples, and so the same radii, as sampling the whole ray.
 */
export function castRays(
  data: ArrayLike<number>,
  width: number,
  height: number,
  centre: { x: number; y: number },
  rays: number,
  rFrom: number,
  rTo: number,
  step: number,
  threshold: number | ((phi: number) => number),
  bright: boolean,
): RimProfile {
  const angles = new Float64Array(rays);
  const radii = new Float64Array(rays);
  const count = Math.max(8, Math.ceil((rTo - rFrom) / step));
  const samples = new Float64Array(count);
  for (let ray = 0; ray < rays; ray++) {
    const phi = (2 * Math.PI * ray) / rays;
    angles[ray] = phi;
    const c = Math.cos(phi);
    const s = Math.sin(phi);
    // A ray leaving the frame never sees chuck beyond that point: cut it there. The sample
    // positions move monotonically along the ray (in floating point too): when both ends lie
    // in the frame, every sample does.
    let usable = count;
    const rEnd = rFrom + (count - 1) * step;
    const whole =
      inFrame(centre.x + rFrom * c, centre.y + rFrom * s, width, height) &&
      inFrame(centre.x + rEnd * c, centre.y + rEnd * s, width, height);
    for (let k = 0; !whole && k < count; k++) {
      const r = rFrom + k * step;
      const x = centre.x + r * c;
      const y = centre.y + r * s;
      if (x < 0 || y < 0 || x > width - 1 || y > height - 1) {
        usable = k;
        break;
      }
    }
    const level = typeof threshold === "number" ? threshold : threshold(phi);
    // Where every sample lies inside sampleRay's clamp, the unclamped sample is the same.
    const inside =
      whole &&
      inClamp(centre.x + rFrom * c, centre.y + rFrom * s, width, height) &&
      inClamp(centre.x + rEnd * c, centre.y + rEnd * s, width, height);
    const sample = inside ? sampleUnclamped : sampleRay;
    // samples[filled..usable) are taken.
    let filled = usable;
    // The outermost wafer sample with two more wafer samples inside it and chuck beyond it.
    let k = -1;
    let sawChuck = false;
    for (let i = usable - 1; i >= 2; i--) {
      while (filled > i - 2) {
        filled--;
        const r = rFrom + filled * step;
        samples[filled] = sample(data, width, height, centre.x + r * c, centre.y + r * s);
      }
      const v = samples[i] as number;
      if (!(bright ? v > level : v < level)) {
        sawChuck = true;
        continue;
      }
      const v1 = samples[i - 1] as number;
      const v2 = samples[i - 2] as number;
      if (sawChuck && (bright ? v1 > level : v1 < level) && (bright ? v2 > level : v2 < level)) {
        k = i;
        break;
      }
    }
    if (k < 0 || k >= usable - 1) {
      radii[ray] = Number.NaN;
      continue;
    }
    const lowest = Math.max(0, k - 6);
    while (filled > lowest) {
      filled--;
      const r = rFrom + filled * step;
      samples[filled] = sample(data, width, height, centre.x + r * c, centre.y + r * s);
    }
    const at = refineCrossing(samples, usable, k, level, bright);
    radii[ray] = rFrom + at * step;
  }
  return { angles, radii };
}

/**
 * sampleRay at a point inside its clamp ([0, width - 1.001] x [0, height - 1.001]): the clamp
 * returns x and y themselves there, and truncation is the floor of a non-negative coordinate.
 */
function sampleUnclamped(
  data: ArrayLike<number>,
  width: number,
  _height: number,
  x: number,
  y: number,
): number {
  const x0 = x | 0;
  const y0 = y | 0;
  const fx = x - x0;
  const fy = y - y0;
  const i = y0 * width + x0;
  const a = data[i] as number;
  const b = data[i + 1] as number;
  const c = data[i + width] as number;
  const d = data[i + width + 1] as number;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/** Whether sampleRay's clamp leaves (x, y) as it is. */
function inClamp(x: number, y: number, width: number, height: number): boolean {
  return x >= 0 && y >= 0 && x <= width - 1.001 && y <= height - 1.001;
}

function inFrame(x: number, y: number, width: number, height: number): boolean {
  return x >= 0 && y >= 0 && x <= width - 1 && y <= height - 1;
}

/** Mean of samples[from..to], both clamped to [0, count - 1]; NaN when that is empty. */
function meanOf(samples: Float64Array, count: number, from: number, to: number): number {
  let s = 0;
  let n = 0;
  for (let i = Math.max(0, from); i <= Math.min(count - 1, to); i++) {
    s += samples[i] as number;
    n++;
  }
  return n > 0 ? s / n : Number.NaN;
}

/**
 * The crossing at sample k (wafer at k, chuck beyond), to a fraction of a sample: where the
 * ray crosses the midpoint of the levels 3-6 samples either side, else the threshold.
 * Reads samples[k - 6 .. k + 6] only.
 */
function refineCrossing(
  samples: Float64Array,
  count: number,
  k: number,
  threshold: number,
  bright: boolean,
): number {
  const inside = meanOf(samples, count, k - 6, k - 3);
  const outside = meanOf(samples, count, k + 3, k + 6);
  const mid = Number.isNaN(inside) || Number.isNaN(outside) ? threshold : (inside + outside) / 2;
  for (let j = Math.min(count - 2, k + 3); j >= Math.max(0, k - 3); j--) {
    const a = (samples[j] as number) - mid;
    const b = (samples[j + 1] as number) - mid;
    const aOn = bright ? a > 0 : a < 0;
    const bOn = bright ? b > 0 : b < 0;
    if (aOn && !bOn) return j + a / (a - b);
  }
  const a = (samples[k] as number) - threshold;
  const b = (samples[k + 1] as number) - threshold;
  return k + a / (a - b);
}

export interface StepRim extends RimProfile {
  /** Local wafer and chuck levels beside the rim per ray (NaN where the ray found none). */
  waferLevels: Float64Array;
  chuckLevels: Float64Array;
  waferIsBright: boolean;
  /** Median local step between wafer and chuck over the rays that found the rim. */
  contrast: number;
}

/**
 * The rim found by its local step instead of one global level: along each ray from `centre`
 * to the frame edge, the outermost place where the means of `baseline` samples either side
 * (the two samples at the edge itself left out: blur) differ by at least `minStep`. Frame-
 * centred vignetting (cos^4, +-12%) can leave the chuck in the frame's corners as dark as the
 * wafer's centre, so that no global threshold separates them, while the rim itself remains a
 * local step of most of the spec's 20% of full scale. The wafer is the side most rays find on
 * the inside of their step; a ray whose step has the other sign started on the wafer (a disk
 * leaving the frame) and met a street or motif edge: it is dropped.
 */
export function findRimBySteps(
  data: ArrayLike<number>,
  width: number,
  height: number,
  centre: { x: number; y: number },
  rays: number,
  minStep: number,
  baseline = 3,
): StepRim {
  const angles = new Float64Array(rays);
  const radii = new Float64Array(rays).fill(Number.NaN);
  const waferLevels = new Float64Array(rays).fill(Number.NaN);
  const chuckLevels = new Float64Array(rays).fill(Number.NaN);
  const signs = new Int8Array(rays);
  const maxReach = Math.ceil(Math.hypot(width, height));
  const samples = new Float64Array(maxReach + 1);
  const mean = (from: number, to: number) => {
    let sum = 0;
    for (let j = from; j <= to; j++) sum += samples[j] as number;
    return sum / (to - from + 1);
  };
  for (let i = 0; i < rays; i++) {
    const phi = (2 * Math.PI * i) / rays;
    angles[i] = phi;
    const c = Math.cos(phi);
    const sn = Math.sin(phi);
    let count = 0;
    for (let t = 0; t <= maxReach; t++) {
      const x = centre.x + t * c;
      const y = centre.y + t * sn;
      if (x < 0 || y < 0 || x > width - 1 || y > height - 1) break;
      samples[count++] = sampleBilinear(data, width, height, x, y);
    }
    const step = (k: number) => mean(k - 1 - baseline, k - 2) - mean(k + 2, k + 1 + baseline);
    let k = -1;
    for (let j = count - 2 - baseline; j >= baseline + 1; j--) {
      if (Math.abs(step(j)) >= minStep) {
        k = j;
        break;
      }
    }
    if (k < 0) continue;
    // Inward to the strongest step nearby: the outermost sample above minStep is its outer flank.
    while (k - 1 >= baseline + 1 && Math.abs(step(k - 1)) > Math.abs(step(k))) k--;
    const inner = mean(k - 1 - baseline, k - 2);
    const outer = mean(k + 2, k + 1 + baseline);
    const mid = 0.5 * (inner + outer);
    let at = k;
    for (let j = k + 2; j >= k - 2; j--) {
      const a = (samples[j] as number) - mid;
      const b = (samples[j + 1] as number) - mid;
      if ((inner > outer ? a > 0 && b <= 0 : a < 0 && b >= 0) && a !== b) {
        at = j + a / (a - b);
        break;
      }
    }
    radii[i] = at;
    waferLevels[i] = inner;
    chuckLevels[i] = outer;
    signs[i] = inner > outer ? 1 : -1;
  }
  let brighter = 0;
  let darker = 0;
  for (const sign of signs) {
    if (sign > 0) brighter++;
    else if (sign < 0) darker++;
  }
  const waferIsBright = brighter >= darker;
  const steps: number[] = [];
  for (let i = 0; i < rays; i++) {
    if ((signs[i] as number) === (waferIsBright ? -1 : 1) || (signs[i] as number) === 0) {
      radii[i] = Number.NaN;
      waferLevels[i] = Number.NaN;
      chuckLevels[i] = Number.NaN;
      continue;
    }
    steps.push(Math.abs((waferLevels[i] as number) - (chuckLevels[i] as number)));
  }
  steps.sort((a, b) => a - b);
  const contrast = steps.length > 0 ? (steps[Math.floor(steps.length / 2)] as number) : 0;
  return { angles, radii, waferLevels, chuckLevels, waferIsBright, contrast };
}

/** Median of the finite values. */
function finiteMedian(values: Float64Array): number {
  const finite = Array.from(values).filter((v) => Number.isFinite(v));
  finite.sort((a, b) => a - b);
  return finite.length > 0 ? (finite[Math.floor(finite.length / 2)] as number) : Number.NaN;
}

function fitRim(
  rim: RimProfile,
  centre: { x: number; y: number },
  minTolerancePx: number,
  start?: Circle,
): Circle | null {
  let valid = 0;
  for (let i = 0; i < rim.radii.length; i++) if (!Number.isNaN(rim.radii[i] as number)) valid++;
  if (valid < rim.radii.length * 0.4) return null;
  const xs = new Float64Array(valid);
  const ys = new Float64Array(valid);
  let j = 0;
  for (let i = 0; i < rim.radii.length; i++) {
    const r = rim.radii[i] as number;
    if (Number.isNaN(r)) continue;
    const phi = rim.angles[i] as number;
    xs[j] = centre.x + r * Math.cos(phi);
    ys[j] = centre.y + r * Math.sin(phi);
    j++;
  }
  return fitCircleRobust(xs, ys, minTolerancePx, start);
}

/** Re-expresses rim radii about a new centre (the fitted one) so deficits read directly. */
function recentre(rim: RimProfile, from: { x: number; y: number }, to: Circle): RimProfile {
  const n = rim.angles.length;
  const angles = new Float64Array(n);
  const radii = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rim.radii[i] as number;
    const phi = rim.angles[i] as number;
    if (Number.isNaN(r)) {
      angles[i] = phi;
      radii[i] = r;
      continue;
    }
    const x = from.x + r * Math.cos(phi) - to.cx;
    const y = from.y + r * Math.sin(phi) - to.cy;
    const phiNew = Math.atan2(y, x);
    angles[i] = phiNew < 0 ? phiNew + 2 * Math.PI : phiNew;
    radii[i] = Math.hypot(x, y);
  }
  return { angles, radii };
}

interface CoarseDisk {
  /** In overview pixels. */
  circle: Circle;
  /** Level the rim is traced at: one for the frame, or one per ray angle (local steps). */
  rimThreshold: number | ((phi: number) => number);
  waferIsBright: boolean;
  waferMean: number;
  chuckMean: number;
}

/**
 * The disk from one global level (Otsu's split of the overview), or null when that level does
 * not outline a disk of the spec's size (then the local steps are asked instead).
 */
function coarseByLevel(overview: FloatMap, fullScale: number): CoarseDisk | null {
  const { threshold, separation, lowMean, highMean } = otsuThreshold(overview.data);
  if (separation < RIM.minStepShare * fullScale) return null;
  const ow = overview.width;
  const oh = overview.height;
  let centreSum = 0;
  let centreCount = 0;
  for (let y = Math.floor(oh * 0.4); y < Math.ceil(oh * 0.6); y++) {
    for (let x = Math.floor(ow * 0.4); x < Math.ceil(ow * 0.6); x++) {
      centreSum += overview.data[y * ow + x] as number;
      centreCount++;
    }
  }
  const waferIsBright = centreSum / centreCount > threshold;
  let sx = 0;
  let sy = 0;
  let area = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const v = overview.data[y * ow + x] as number;
      if (waferIsBright ? v > threshold : v < threshold) {
        sx += x;
        sy += y;
        area++;
      }
    }
  }
  const minSide = Math.min(ow, oh);
  const coarseR = Math.sqrt(area / Math.PI);
  if (area === 0 || coarseR < 0.3 * minSide || coarseR > 0.62 * minSide) return null;
  const coarseCentre = { x: sx / area, y: sy / area };
  // The rim is traced nearer the chuck level than Otsu's split: dark die streets reaching
  // the rim must still read as wafer, or every street would look like an edge chip.
  const chuckMean = waferIsBright ? lowMean : highMean;
  const waferMean = waferIsBright ? highMean : lowMean;
  const rimThreshold = chuckMean + RIM.traceShare * (waferMean - chuckMean);
  const overviewRim = castRays(
    overview.data,
    ow,
    oh,
    coarseCentre,
    360,
    coarseR * 0.6,
    coarseR * 1.35,
    0.5,
    rimThreshold,
    waferIsBright,
  );
  const circle = fitRim(overviewRim, coarseCentre, 1);
  return circle ? { circle, rimThreshold, waferIsBright, waferMean, chuckMean } : null;
}

/**
 * The disk from the rim's local step along rays from the frame centre (the spec keeps the
 * wafer's centre within 3% of it), for frames where no global level outlines it: vignetting
 * centred on the frame darkens the corners' chuck to the wafer's level. The rim is then traced
 * at a level of its own per ray (between the wafer and chuck levels beside it there).
 */
function coarseBySteps(overview: FloatMap, fullScale: number): CoarseDisk {
  const ow = overview.width;
  const oh = overview.height;
  const centre = { x: (ow - 1) / 2, y: (oh - 1) / 2 };
  const rays = 360;
  const steps = findRimBySteps(overview.data, ow, oh, centre, rays, RIM.minStepShare * fullScale);
  if (steps.contrast < RIM.minStepShare * fullScale) {
    throw new WaferNotFoundError(
      `no wafer disk found: the frame has no two distinct levels and no rim step (chuck/wafer step ${((100 * steps.contrast) / fullScale).toFixed(1)}% of full scale, need at least ${100 * RIM.minStepShare}%)`,
    );
  }
  const circle = fitRim(steps, centre, 1);
  const minSide = Math.min(ow, oh);
  if (!circle || circle.r < 0.3 * minSide || circle.r > 0.62 * minSide) {
    throw new WaferNotFoundError(
      circle
        ? `no wafer disk found: the rim steps outline a disk ${((200 * circle.r) / minSide).toFixed(0)}% of the frame's shorter side (expected 80-98%)`
        : "no wafer disk found: too few rim steps around the frame centre",
    );
  }
  // Per-ray trace level, from the nearest rays that found the rim (angles about the frame centre).
  const level = new Float64Array(rays).fill(Number.NaN);
  for (let i = 0; i < rays; i++) {
    const wafer = steps.waferLevels[i] as number;
    const chuck = steps.chuckLevels[i] as number;
    if (Number.isFinite(wafer) && Number.isFinite(chuck))
      level[i] = chuck + RIM.traceShare * (wafer - chuck);
  }
  const global = finiteMedian(level);
  const rimThreshold = (phi: number) => {
    // phi is about the fitted centre, a few pixels from the frame centre: the nearest ray is close.
    const at = Math.round(
      (((phi % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)) / ((2 * Math.PI) / rays),
    );
    for (let d = 0; d <= rays / 2; d++) {
      for (const j of [at + d, at - d]) {
        const v = level[((j % rays) + rays) % rays] as number;
        if (Number.isFinite(v)) return v;
      }
    }
    return global;
  };
  return {
    circle,
    rimThreshold,
    waferIsBright: steps.waferIsBright,
    waferMean: finiteMedian(steps.waferLevels),
    chuckMean: finiteMedian(steps.chuckLevels),
  };
}

/**
 * A disk found before detection (the quality gate's fit, endpoint/quality/disk.ts): where
 * locate's own trace starts, in place of its coarse pass.
 */
export interface DiskSeed {
  /** Full-resolution px. */
  circle: Circle;
  /** Full-resolution px per pixel of the overview the seed was fitted on. */
  pixelPx: number;
  waferIsBright: boolean;
  /** Mean wafer and chuck levels, fractions of full scale. */
  waferLevel: number;
  chuckLevel: number;
}

/**
 * Locates the wafer. `work` is the binned working map (used for the coarse pass); the rim is
 * then measured on the full-resolution image for sub-pixel radius and chip depth. With a
 * `seed` (a disk found by one global level), the coarse pass is skipped: the full-resolution
 * rays start from the seed's circle and reach only as far past it as an out-of-round disk and
 * the seed's own error need, and the robust fit starts from it. The answer is still locate's
 * own fit of its own rim.
 */
export function locateWafer(
  image: GrayImage,
  work: FloatMap,
  fullScale: number,
  seed?: DiskSeed | null,
): WaferLocation {
  if (seed) {
    // A trace the seed cannot hold (its circle too far off, or a rim outside its window) is
    // not an answer: the disk is then found from scratch, as without a seed.
    const traced = traceFromSeed(image, seed, fullScale);
    if (traced) return traced;
  }
  const factor = Math.max(1, Math.floor(Math.min(work.width, work.height) / 320));
  const overview = factor > 1 ? binMap(work, factor) : work;
  const byLevel = coarseByLevel(overview, fullScale);
  if (!byLevel) return traceRim(image, overview, coarseBySteps(overview, fullScale));
  const outer = outerRimBySteps(overview, fullScale, byLevel);
  if (outer) {
    // The wafer is the outermost disk: the chuck lies around it. A level disk whose trace
    // window ends inside the rim's local step outlined part of the wafer (its centre, bright
    // under frame-centred vignetting and a level falling towards the rim, with a chuck as
    // bright as that centre), whatever its size.
    try {
      return traceRim(image, overview, outer);
    } catch (stepsError) {
      if (!(stepsError instanceof WaferNotFoundError)) throw stepsError;
    }
  }
  try {
    return traceRim(image, overview, byLevel);
  } catch (levelError) {
    // The global level outlined a disk that the full-resolution trace does not confirm: under
    // strong vignetting it can outline the bright centre only (a "disk" of half the frame).
    // The rim's local step does not depend on one level for the whole frame; if it finds no
    // plausible disk either, the level's own reason is the one reported.
    if (!(levelError instanceof WaferNotFoundError)) throw levelError;
    try {
      return traceRim(image, overview, coarseBySteps(overview, fullScale));
    } catch (stepsError) {
      throw stepsError instanceof WaferNotFoundError ? levelError : stepsError;
    }
  }
}

/**
 * The disk of the rim's local step (coarseBySteps) when it reaches past the window in which
 * traceRim would look for the level disk's rim (COARSE_TRACE, overview px): the level's
 * full-resolution trace cannot find that rim, so the level outlined something inside it; null
 * when the steps find no plausible disk or one that the level's trace window holds.
 */
function outerRimBySteps(
  overview: FloatMap,
  fullScale: number,
  byLevel: CoarseDisk,
): CoarseDisk | null {
  let steps: CoarseDisk;
  try {
    steps = coarseBySteps(overview, fullScale);
  } catch (error) {
    if (error instanceof WaferNotFoundError) return null;
    throw error;
  }
  const level = byLevel.circle;
  const offset = Math.hypot(steps.circle.cx - level.cx, steps.circle.cy - level.cy);
  const reach = level.r * COARSE_TRACE.outwardShare + COARSE_TRACE.marginPixels;
  return steps.circle.r + offset > reach ? steps : null;
}

/** The rim at full resolution from a coarse disk: sub-pixel radius and chip depth. */
function traceRim(image: GrayImage, overview: FloatMap, coarse: CoarseDisk): WaferLocation {
  const { circle, rimThreshold, waferIsBright, waferMean, chuckMean } = coarse;
  const toFull = (v: number) => (v + 0.5) * overview.scale - 0.5;
  const centreFull = { x: toFull(circle.cx), y: toFull(circle.cy) };
  const rFull = circle.r * overview.scale;
  const rays = raysFor(rFull);
  // Inward reach covers the deepest edge chips (a few % of the radius) and the notch.
  const rim = castRays(
    image.data,
    image.width,
    image.height,
    centreFull,
    rays,
    rFull * 0.93 - COARSE_TRACE.marginPixels * overview.scale,
    rFull * COARSE_TRACE.outwardShare + COARSE_TRACE.marginPixels * overview.scale,
    1,
    rimThreshold,
    waferIsBright,
  );
  const fine = fitRim(rim, centreFull, 0.75);
  if (!fine) {
    throw new WaferNotFoundError(
      "no wafer disk found: the rim could not be traced at full resolution",
    );
  }
  return placeFit(image, rim, centreFull, fine, waferMean, chuckMean);
}

/** Rays of the full-resolution trace: one per 1.5 px of rim. */
function raysFor(rFull: number): number {
  return Math.min(8192, Math.max(720, Math.round((2 * Math.PI * rFull) / 1.5)));
}

/**
 * The rim at full resolution from a seed disk, or null when the seed cannot hold it. The rays
 * reach inwards as traceRim's do (the deepest chips and the notch); outwards only past the
 * seed's circle by the spec's out-of-round share, the seed's error and the samples the
 * crossing's refinement reads beyond it, where traceRim's reach 3% of the radius out covers a
 * coarse circle's error. The traced levels are the seed's (the chuck and wafer class means of
 * one global level) and the rim is traced at RIM.traceShare between them, as coarseByLevel's.
 */
function traceFromSeed(image: GrayImage, seed: DiskSeed, fullScale: number): WaferLocation | null {
  const { circle, pixelPx, waferIsBright } = seed;
  const centreFull = { x: circle.cx, y: circle.cy };
  const rFull = circle.r;
  const margin = SEEDED_TRACE.seedErrorPixels * pixelPx;
  const reach = rFull * (1 + SEEDED_TRACE.outOfRoundShare) + margin + SEEDED_TRACE.refineSamples;
  const waferMean = seed.waferLevel * fullScale;
  const chuckMean = seed.chuckLevel * fullScale;
  const rimThreshold = chuckMean + RIM.traceShare * (waferMean - chuckMean);
  const rim = castRays(
    image.data,
    image.width,
    image.height,
    centreFull,
    raysFor(rFull),
    rFull * 0.93 - margin,
    reach,
    1,
    rimThreshold,
    waferIsBright,
  );
  const fine = fitRim(rim, centreFull, 0.75, circle);
  if (!fine) return null;
  // The fitted disk's out-of-round rim, with the refinement's samples, must lie inside the
  // reach from the rays' origin; else some rays stopped short of it and the fit is the seed's.
  const offset = Math.hypot(fine.cx - centreFull.x, fine.cy - centreFull.y);
  const farthest = fine.r * (1 + SEEDED_TRACE.outOfRoundShare / 2) + offset;
  if (farthest + SEEDED_TRACE.refineSamples > reach) return null;
  try {
    return placeFit(image, rim, centreFull, fine, waferMean, chuckMean);
  } catch (error) {
    if (error instanceof WaferNotFoundError) return null;
    throw error;
  }
}

/** The located wafer from a fine fit of the full-resolution rim, checked against the spec's size. */
function placeFit(
  image: GrayImage,
  rim: RimProfile,
  centreFull: { x: number; y: number },
  fine: Circle,
  waferMean: number,
  chuckMean: number,
): WaferLocation {
  const rimAbout = recentre(rim, centreFull, fine);
  // The gate's plausible range for the spec's 80-98%: a disk outside it is not the wafer (a
  // level can outline a vignetted wafer's bright centre only), whatever the coarse pass said.
  const imageMin = Math.min(image.width, image.height);
  const diameterFraction = (2 * fine.r) / imageMin;
  const [least, most] = DIAMETER_FRACTION_RANGE;
  if (diameterFraction < least || diameterFraction > most) {
    throw new WaferNotFoundError(
      `no wafer disk found: fitted disk diameter is ${(100 * diameterFraction).toFixed(0)}% of the frame (expected 80-98%)`,
    );
  }
  return { circle: fine, rim: sortByAngle(rimAbout), waferLevel: waferMean, chuckLevel: chuckMean };
}

/**
 * The rim's samples in ascending angle (a stable sort: ties keep ray order). The sorted copies
 * are filled by a loop: Float64Array.from with a mapping function over an array goes through
 * the iterator protocol and a call per element, and took a millisecond of each detection.
 */
function sortByAngle(rim: RimProfile): RimProfile {
  const n = rim.angles.length;
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (rim.angles[a] as number) - (rim.angles[b] as number));
  const angles = new Float64Array(n);
  const radii = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = order[k] as number;
    angles[k] = rim.angles[i] as number;
    radii[k] = rim.radii[i] as number;
  }
  return { angles, radii };
}

/**
 * One small call of otsuThreshold at load (the answer is not used): V8 compiles its first long
 * loop while the first large call is still inside it, and the lines after it that had never run
 * then left the compiled code for the interpreter at every later call (measured on main: about
 * once per detection, the histogram pass over the overview finishing unoptimised).
 */
otsuThreshold(Float32Array.from({ length: 64 }, (_, i) => (i * 37) % 11));
