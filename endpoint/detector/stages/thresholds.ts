// Stage "threshold": seed and grow thresholds from the residual's own measured noise.
import { EDGE_GAIN_UNIT } from "../die-to-die-rim-ring.ts";
import type { Lattice } from "../lattice.ts";
import { binomialBlur3, type FloatMap } from "../raster.ts";
import { notNoiseBlobs, scoreTailFactor } from "../score-tail.ts";
import type { Blob, Thresholds } from "../segment.ts";
import { spotSeedSigmas } from "../spot-statistic.ts";
import {
  classSigmaReader,
  measureSigmas,
  measureSigmasOfZones,
  type PatternAwareSigma,
  type SampleGridActivity,
  smallestSigma,
} from "../threshold.ts";
import { activityMap, activityReader } from "../threshold-activity.ts";
import { pixelTailFactor } from "../threshold-pixel-tail.ts";
import { DETECTION } from "../thresholds.ts";
import type { Noise } from "./noise.ts";
import type { WaferPlace } from "./place.ts";

/** What segmentation needs: the score and its seed and grow thresholds. */
export interface SeedThresholds {
  /** The smoothed residual the seeds and growth are tested on. */
  score: Float32Array;
  seeds: Thresholds;
  /** Seed threshold at a map pixel (for scoring). */
  highAt: (i: number) => number;
  /** The score's noise sigma at a map pixel (highAt is DETECTION.seedSigmas of it, floored). */
  scoreSigmaAt: (i: number) => number;
  /**
   * The pattern activities the noise measurement took on the disk's sample grid (null where it
   * took none), and scoreSigmaAt from a pixel and its activity: the score tail reads its
   * samples' activities there (score-tail.ts).
   */
  sampleGrid?: SampleGridActivity | null;
  scoreSigmaOfActivity?: (i: number, activity: number) => number;
}

/** The seed thresholds and, once segmentation has run, the score's measured tail. */
export interface DetectionThresholds extends SeedThresholds {
  /**
   * How much heavier than a Gaussian the score's tail is (score-tail.ts, >= 1): a single
   * excursion of die-specific detail (a JPEG block, correlated noise) is particle-sized, so a
   * particle-sized blob must stand this much further out than the seed threshold.
   */
  scoreTail: number;
}

/**
 * The thresholds with the score's tail measured on what segmentation left as noise: the pixels
 * of grown blobs larger than an excursion of noise (defects, pattern lines) are left out
 * (score-tail.ts says why).
 */
export function withScoreTail(
  thresholds: SeedThresholds,
  blobs: readonly Blob[],
  work: FloatMap,
  wafer: WaferPlace,
): DetectionThresholds {
  const notNoise = notNoiseBlobs(blobs, work.width, work.scale, wafer.sizeScale);
  return {
    ...thresholds,
    scoreTail: scoreTailFactor(
      thresholds.score,
      work.width,
      wafer.analysis,
      thresholds.scoreSigmaAt,
      notNoise,
      thresholds.sampleGrid ?? null,
      thresholds.scoreSigmaOfActivity ?? null,
    ),
  };
}

/**
 * The residual and what the comparison measured with it (stages/die-to-die.ts DieToDieResult on
 * patterned wafers; on bare ones the residual alone, the rest null).
 */
export interface ComparedResidual {
  residual: Float32Array;
  edgeMask: Uint8Array | null;
  comparisonSigma: number | null;
  edgeGain: Uint8Array | null;
}

/** detectionThresholds on what the comparison stage returned, as detect() calls it. */
export function thresholdsOfComparison(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  lattice: Lattice | null,
  compared: ComparedResidual,
  scoreBuffer?: Float32Array,
): SeedThresholds {
  return detectionThresholds(
    work,
    wafer,
    noise,
    compared.residual,
    lattice,
    compared.edgeMask,
    compared.comparisonSigma,
    compared.edgeGain,
    scoreBuffer,
  );
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
  /** 1 where the die-to-die references are extrapolated (near the rim): noise of its own. */
  edgeMask: Uint8Array | null,
  /**
   * On patterned wafers, the per-pixel noise sigma of the smoothed map the die-to-die
   * comparison ran on (stages/die-to-die.ts); null on bare wafers.
   */
  comparisonSigma: number | null = null,
  /**
   * Per pixel, the noise gain of its comparison over an interior one (die-to-die.ts
   * edgeGain, EDGE_GAIN_UNIT being a gain of 1): the ring's measured noise mixes pixels of every
   * gain, so its outer pixels also get the interior's sigma times their own gain.
   */
  edgeGain: Uint8Array | null = null,
  /** A buffer of the map's size for the score (every value is written), else a new one. */
  scoreBuffer?: Float32Array,
): SeedThresholds {
  const score = scoreBuffer ?? new Float32Array(work.width * work.height);
  if (score.length !== work.width * work.height)
    throw new RangeError(
      `score buffer of ${score.length} values for a ${work.width}x${work.height} map`,
    );
  binomialBlur3(residual, work.width, work.height, score);
  const { sigmaMap, level } = noise;
  // Noise floors, 80% of what the sensor noise alone puts into each statistic (the measured
  // 95th percentiles may read lower: allowance and order statistics shrink the body, not the
  // tail). The score: the map's noise smoothed once (on patterned wafers the comparison's
  // smoothing makes its noise lower still, but its tail on correlated noise is not: the
  // once-smoothed rule is kept). On bare wafers that is the raw map's sigma times the white-noise
  // gain; on patterned wafers it is comparisonSigma, the smoothed map's own sigma measured die to
  // die (correlated noise included), because the raw map's sigma there reads the pattern's edges
  // as noise on small dies (docs/detector-recall.md rounds 20-21). The residual: the raw map
  // less a smooth model on bare wafers (sigmaMap); on patterned wafers a difference of
  // binomial-smoothed values, whose tail is set by the centre pixel's noise shared by all four
  // comparisons: comparisonSigma again, not the raw map's sigma.
  const floors = [
    0.8 * (comparisonSigma ?? DETECTION.binomialNoiseGain * sigmaMap),
    0.8 * (comparisonSigma ?? sigmaMap),
  ];
  // On a patterned wafer every threshold reads pattern activity (two 3x3 ranges) at each
  // sample and each pixel segmentation tests: the ranges of the whole map are taken once.
  // Only the rows it is read at are worth the pass: pixels of the analysis disk (and blob
  // centroids rounded onto the map, a row beyond) read it one die away along a, whose flat
  // offset can also wrap a row. Any other pixel is read through range3x3, so this is speed only.
  const reach = lattice ? Math.abs(Math.round(lattice.a.y)) + 3 : 0;
  const { cy, r } = wafer.analysis;
  const activity = lattice
    ? activityMap(work, { first: Math.floor(cy - r) - reach, end: Math.ceil(cy + r) + reach + 1 })
    : null;
  // The whole disk's noise, where there is no ring of its own.
  const measureWhole = () =>
    measureSigmas(
      [score, residual],
      floors,
      work,
      wafer.analysis,
      lattice?.a ?? null,
      undefined,
      undefined,
      activity,
      null,
    ) as [PatternAwareSigma, PatternAwareSigma];
  // Near the rim some references are missing: the ring compares with the pairs left on the
  // wafer, else with extrapolations (die-to-die-rim-ring.ts), each pixel with its own noise
  // gain. The ring's noise is measured apart, per unit of that gain (each sample divided by its
  // pixel's gain), and each ring pixel's sigma is its gain times the larger of that unit and the
  // interior's sigma: the interior's rule with the ring's own noise statistic.
  const ring =
    edgeMask && countOnes(edgeMask, DETECTION.minZoneSamples) >= DETECTION.minZoneSamples
      ? edgeMask
      : null;
  // Both zones from one walk over the disk's samples (the same models as measureSigmas' call
  // per zone: mask 0, then mask 1 with the ring's gains).
  const [[interiorScore, interiorResidual], [ringScore, ringResidual], sampleGrid] = ring
    ? (measureSigmasOfZones(
        [score, residual],
        floors,
        work,
        wafer.analysis,
        lattice?.a ?? null,
        ring,
        activity,
        edgeGain ? { values: edgeGain, unit: EDGE_GAIN_UNIT } : null,
      ) as [
        [PatternAwareSigma, PatternAwareSigma],
        [PatternAwareSigma, PatternAwareSigma],
        SampleGridActivity | null,
      ])
    : [measureWhole(), [null, null], null];
  const gainAt = (i: number): number =>
    edgeGain ? Math.max(1, (edgeGain[i] as number) / EDGE_GAIN_UNIT) : 1;
  // Both zones' models were measured on the same map with the same lattice: one pattern
  // activity per pixel serves both. The models' fields are read once (activityReader,
  // classSigmaReader: the values of sigmaAt, patternActivity and sigmaOfActivity).
  const zoned = (interior: PatternAwareSigma, edge: PatternAwareSigma | null) => {
    const activityAt = activityReader(interior);
    const interiorSigma = classSigmaReader(interior);
    const edgeSigma = edge && ring ? classSigmaReader(edge) : null;
    const singleClass = interior.sigmas.length === 1;
    return (i: number): number => {
      if (!edgeMask?.[i]) return singleClass ? interiorSigma(0) : interiorSigma(activityAt(i));
      const activity = activityAt(i);
      return gainAt(i) * Math.max(edgeSigma ? edgeSigma(activity) : 0, interiorSigma(activity));
    };
  };
  // zoned's sigma from a pixel and its activity (the activity already known): the same branches.
  const zonedOfActivity = (interior: PatternAwareSigma, edge: PatternAwareSigma | null) => {
    const interiorSigma = classSigmaReader(interior);
    const edgeSigma = edge && ring ? classSigmaReader(edge) : null;
    const singleClass = interior.sigmas.length === 1;
    return (i: number, activity: number): number => {
      if (!edgeMask?.[i]) return singleClass ? interiorSigma(0) : interiorSigma(activity);
      return gainAt(i) * Math.max(edgeSigma ? edgeSigma(activity) : 0, interiorSigma(activity));
    };
  };
  const scoreSigma = zoned(interiorScore, ringScore);
  const residualSigma = zoned(interiorResidual, ringResidual);
  const highFloor = DETECTION.seedLevelShare * Math.abs(level);
  const lowFloor = DETECTION.growLevelShare * Math.abs(level);
  const pixelFloor = DETECTION.pixelSeedFloorFactor * highFloor;
  // Single-pixel seeds assume a Gaussian tail; JPEG and smeared sensor faults have heavier ones.
  const pixelSigmas = DETECTION.pixelSeedSigmas * pixelTailFactor(work, residual, wafer.analysis);
  const highAt = (i: number) => Math.max(DETECTION.seedSigmas * scoreSigma(i), highFloor);
  // The spot seed (patterned wafers: the footprint is read die to die): the pixel seed's
  // statistic and noise model at the false-alarm rate over the disk's pixels.
  const spotSigmas = lattice
    ? spotSeedSigmas(Math.PI * wafer.analysis.r * wafer.analysis.r) *
      (pixelSigmas / DETECTION.pixelSeedSigmas)
    : null;
  return {
    score,
    highAt,
    scoreSigmaAt: scoreSigma,
    sampleGrid,
    scoreSigmaOfActivity: sampleGrid ? zonedOfActivity(interiorScore, ringScore) : undefined,
    seeds: {
      minHigh: Math.max(DETECTION.seedSigmas * smallestSigma(interiorScore), highFloor),
      minLow: Math.max(DETECTION.growSigmas * smallestSigma(interiorScore), lowFloor),
      high: highAt,
      low: (i) => Math.max(DETECTION.growSigmas * scoreSigma(i), lowFloor),
      pixelSeed: {
        residual,
        min: Math.max(pixelSigmas * smallestSigma(interiorResidual), pixelFloor),
        high: (i) => Math.max(pixelSigmas * residualSigma(i), pixelFloor),
        minPixels: DETECTION.pixelSeedMinPixels,
        ...(spotSigmas === null
          ? {}
          : {
              spot: {
                min: Math.max(spotSigmas * smallestSigma(interiorResidual), pixelFloor),
                high: (i: number) => Math.max(spotSigmas * residualSigma(i), pixelFloor),
              },
            }),
      },
      lineSeed: {
        sigmaAt: scoreSigma,
        minSigma: smallestSigma(interiorScore),
        floor: highFloor,
        pattern: lattice ? work.data : null,
        lattice: lattice ? [lattice.a, lattice.b] : null,
      },
    },
  };
}

/**
 * Sum of the mask's bytes; four at a time where the buffer allows (a 1M-pixel mask per wafer).
 * With `enough`, the count may stop once it reaches that (checked every 4 kB): a caller that
 * only asks "at least this many?" then reads a fraction of the mask, with the same answer.
 */
export function countOnes(mask: Uint8Array, enough = Number.POSITIVE_INFINITY): number {
  let n = 0;
  let i = 0;
  if (mask.byteOffset % 4 === 0) {
    const words = new Uint32Array(mask.buffer, mask.byteOffset, mask.length >>> 2);
    for (let from = 0; from < words.length && n < enough; from += 1024) {
      const to = Math.min(words.length, from + 1024);
      for (let w = from; w < to; w++) {
        const word = words[w] as number;
        // Two 16-bit lanes of byte pairs (each at most 510), then the lanes added: exact.
        const pairs = (word & 0x00ff00ff) + ((word >>> 8) & 0x00ff00ff);
        n += (pairs & 0xffff) + (pairs >>> 16);
      }
    }
    if (n >= enough) return n;
    i = words.length * 4;
  }
  for (; i < mask.length; i++) n += mask[i] as number;
  return n;
}
