// The coarse disk on the overview: Otsu's global level, else the rim's local steps about the frame centre.

import { WaferNotFoundError } from "./errors.ts";
import type { Circle } from "./geometry.ts";
import { castRays, fitRim } from "./locate-rays.ts";
import { findRimBySteps } from "./locate-steps.ts";
import type { FloatMap } from "./raster.ts";
import { RIM } from "./thresholds.ts";

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

/** Median of the finite values. */
function finiteMedian(values: Float64Array): number {
  const finite = Array.from(values).filter((v) => Number.isFinite(v));
  finite.sort((a, b) => a - b);
  return finite.length > 0 ? (finite[Math.floor(finite.length / 2)] as number) : Number.NaN;
}

export interface CoarseDisk {
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
export function coarseByLevel(overview: FloatMap, fullScale: number): CoarseDisk | null {
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
export function coarseBySteps(overview: FloatMap, fullScale: number): CoarseDisk {
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
 * One small call of otsuThreshold at load (the answer is not used): V8 compiles its first long
 * loop while the first large call is still inside it, and the lines after it that had never run
 * then left the compiled code for the interpreter at every later call (measured on main: about
 * once per detection, the histogram pass over the overview finishing unoptimised).
 */
otsuThreshold(Float32Array.from({ length: 64 }, (_, i) => (i * 37) % 11));
