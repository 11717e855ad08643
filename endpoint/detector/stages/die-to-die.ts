// Stage "dieToDie": each pixel of a patterned wafer against the same spot in its neighbour dies.
import { levelDies } from "../die-levelling.ts";
import { dieToDieResidual } from "../die-to-die.ts";
import { boundInterpolationError } from "../die-to-die-allowance.ts";
import { restoreOneSignedFootprints } from "../die-to-die-footprint.ts";
import { candidateFloor } from "../die-to-die-footprint-candidates.ts";
import { comparisonBuffer } from "../die-to-die-frame.ts";
import { boundRimInterpolationError } from "../die-to-die-rim-interpolation.ts";
import type { Lattice } from "../lattice.ts";
import { estimateDieDifferenceNoise, PAIR_DIFFERENCE_GAIN } from "../noise.ts";
import { binomialBlur3, type FloatMap } from "../raster.ts";
import { COMPARISON_FLOOR, DETECTION, INTERPOLATION_ERROR, SPEC } from "../thresholds.ts";
import type { Noise } from "./noise.ts";
import type { WaferPlace } from "./place.ts";

export interface DieToDieResult {
  residual: Float32Array;
  /** 1 where some reference is extrapolated (near the rim), else 0. */
  edgeMask: Uint8Array;
  /**
   * Per-pixel noise sigma of the smoothed map the comparison runs on (measured die to die).
   * The residual is a difference of that map's values, so its noise follows from this one,
   * not from the raw map's sigma.
   */
  comparisonSigma: number;
  /** Per pixel, the noise gain of its references over an interior pixel's (EDGE_GAIN_UNIT = 1). */
  edgeGain: Uint8Array;
}

/**
 * Die-to-die residual, compared on a lightly smoothed map: box-binned fine motif features
 * alias differently in each die (a 1 px gap falls in one bin here, across two there);
 * smoothing makes the map interpolable so neighbour dies can be sampled at sub-pixel offsets.
 */
export function dieToDie(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  lattice: Lattice,
  /**
   * Map-sized buffers for the outputs (each fully written here), else new ones: detect passes
   * the ones it keeps between detections (a fresh 4 MB array costs page faults and, a few MB of
   * them per wafer, one of V8's external-memory collections).
   */
  buffers: {
    residual?: Float32Array;
    edgeMask?: Uint8Array;
    edgeGain?: Uint8Array;
    /** A map-sized buffer first written after this stage, lent for the noise's samples. */
    scratch?: Float32Array;
  } = {},
): DieToDieResult {
  const size = work.width * work.height;
  for (const [name, buffer] of Object.entries(buffers))
    if (buffer.length !== size)
      throw new RangeError(
        `${name} buffer of ${buffer.length} values for a ${work.width}x${work.height} map`,
      );
  // Smoothed straight into the residual kernel's memory, which then reads it in place.
  const smoothMap = comparisonBuffer(work.width, work.height);
  binomialBlur3(work.data, work.width, work.height, smoothMap);
  const residual = buffers.residual ?? new Float32Array(size);
  const edgeMask = buffers.edgeMask ?? new Uint8Array(size);
  // Rim-ring pixels compare with extrapolated or single references: their noise gain.
  const edgeGain = buffers.edgeGain ?? new Uint8Array(size);
  // The comparison's own noise, measured on the map it compares: correlated sensor noise, blur
  // and JPEG smoothing survive the binomial smoothing better than white noise, and a sigma
  // from the white-noise gain would forgive most of their residual as misregistration. The
  // die difference is also where the pattern cancels: the raw map's Laplacian MAD (sigmaMap)
  // reads street and motif edges as noise on small dies (1.7x the noise on dies under 22 map px,
  // docs/detector-recall.md round 20), so it is no floor here; it stands in only where the die
  // difference could not be measured (too few samples inside the disk).
  const dieDifference = estimateDieDifferenceNoise(
    smoothMap,
    work.width,
    work.height,
    wafer.analysis,
    lattice.a,
    lattice.b,
    undefined,
    buffers.scratch,
  );
  const smoothSigma =
    dieDifference > 0
      ? Math.max(
          dieDifference,
          (DETECTION.binomialNoiseGain * COMPARISON_FLOOR.quantisationLevels) / work.scale,
        )
      : DETECTION.binomialNoiseGain * noise.sigmaMap;
  const gate = INTERPOLATION_ERROR.gatePairSigmas * PAIR_DIFFERENCE_GAIN * smoothSigma;
  // The three passes after the residual look only at pixels over their own bounds: the residual
  // lists those over the lowest of their bounds as it writes them, and all read the list instead of
  // walking the disk (boundInterpolationError and boundRimInterpolationError only lower pixels,
  // so the list still holds every footprint candidate after them).
  const standing = dieToDieResidual(
    { ...work, data: smoothMap },
    lattice.a,
    lattice.b,
    wafer.analysis,
    wafer.circle.r / work.scale,
    smoothSigma,
    residual,
    edgeMask,
    edgeGain,
    Math.min(gate, candidateFloor(smoothSigma)),
  );
  // Bilinear references miss a narrow trough's or ridge's depth by their curvature, not their slope.
  boundInterpolationError(
    { ...work, data: smoothMap },
    lattice.a,
    lattice.b,
    wafer.analysis,
    smoothSigma,
    gate,
    edgeMask,
    residual,
    standing,
  );
  // The rim ring's pairs sample a narrow street between map rows as the interior's do.
  boundRimInterpolationError(
    { ...work, data: smoothMap },
    lattice.a,
    lattice.b,
    wafer.analysis,
    wafer.circle.r / work.scale,
    smoothSigma,
    gate,
    edgeMask,
    residual,
    standing,
  );
  // The allowance is shape-blind: give back what it forgave of one-signed spots on motif detail.
  restoreOneSignedFootprints(
    { ...work, data: smoothMap },
    lattice.a,
    lattice.b,
    wafer.analysis,
    smoothSigma,
    edgeMask,
    residual,
    standing,
  );
  // A die of a reticle field at +0.75% against neighbours at -0.75% differs by 1.5%.
  levelDies(
    residual,
    work.width,
    lattice.a,
    lattice.b,
    lattice.streetPhase,
    wafer.analysis,
    2 * SPEC.reticleLevelShare * Math.abs(noise.level),
    edgeMask,
    // Offsets the grow threshold's level floor cannot see do not matter.
    DETECTION.growLevelShare * Math.abs(noise.level),
  );
  return { residual, edgeMask, comparisonSigma: smoothSigma, edgeGain };
}
