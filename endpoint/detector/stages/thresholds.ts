// Stage "threshold": seed and grow thresholds from the residual's own measured noise.
import type { Lattice } from "../lattice.ts";
import { binomialBlur3, type FloatMap } from "../raster.ts";
import type { Thresholds } from "../segment.ts";
import { measureSigmas, type PatternAwareSigma, sigmaAt, smallestSigma } from "../threshold.ts";
import { DETECTION } from "../thresholds.ts";
import type { Noise } from "./noise.ts";
import type { WaferPlace } from "./place.ts";

export interface DetectionThresholds {
  /** The smoothed residual the seeds and growth are tested on. */
  score: Float32Array;
  seeds: Thresholds;
  /** Seed threshold at a map pixel (for scoring). */
  highAt: (i: number) => number;
}

/**
 * Seed and grow thresholds from the residual's own measured noise: from 95th percentiles of
 * |score| (1.96 sigma if Gaussian), not from medians: die-to-die residuals are zero-inflated
 * by their edge allowance, and false alarms live in the tail. Defects cover a few % of the
 * disk at most, which moves this little. On patterned wafers it is measured per class of
 * pattern activity (flat die areas vs edges). Floors from the spec's 4% level rule.
 */
export function detectionThresholds(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  residual: Float32Array,
  lattice: Lattice | null,
): DetectionThresholds {
  const score = new Float32Array(work.width * work.height);
  binomialBlur3(residual, work.width, work.height, score);
  const { sigmaMap, level } = noise;
  const [sigmaModel, residualModel] = measureSigmas(
    [score, residual],
    // Noise floors: the smoothing gain for the score, most of the raw sigma for the residual.
    [0.8 * DETECTION.binomialNoiseGain * sigmaMap, 0.8 * sigmaMap],
    work,
    wafer.analysis,
    lattice?.a ?? null,
  ) as [PatternAwareSigma, PatternAwareSigma];
  const highFloor = DETECTION.seedLevelShare * Math.abs(level);
  const lowFloor = DETECTION.growLevelShare * Math.abs(level);
  const pixelFloor = DETECTION.pixelSeedFloorFactor * highFloor;
  const highAt = (i: number) => Math.max(DETECTION.seedSigmas * sigmaAt(sigmaModel, i), highFloor);
  return {
    score,
    highAt,
    seeds: {
      minHigh: Math.max(DETECTION.seedSigmas * smallestSigma(sigmaModel), highFloor),
      minLow: Math.max(DETECTION.growSigmas * smallestSigma(sigmaModel), lowFloor),
      high: highAt,
      low: (i) => Math.max(DETECTION.growSigmas * sigmaAt(sigmaModel, i), lowFloor),
      pixelSeed: {
        residual,
        min: Math.max(DETECTION.pixelSeedSigmas * smallestSigma(residualModel), pixelFloor),
        high: (i) => Math.max(DETECTION.pixelSeedSigmas * sigmaAt(residualModel, i), pixelFloor),
      },
    },
  };
}
