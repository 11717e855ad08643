// Stages "background" and "lattice": bare or patterned, and the model the residual is taken against.
import type { DetectionHints } from "../../../schemas/detection.ts";
import {
  fitSmoothBackground,
  type SmoothBackground,
  structuredBlockShare,
  subtractBackground,
} from "../background.ts";
import { type Lattice, measureLattice } from "../lattice.ts";
import type { FloatMap } from "../raster.ts";
import { LATTICE } from "../thresholds.ts";
import type { Noise } from "./noise.ts";
import type { WaferPlace } from "./place.ts";

export interface Illumination {
  /** The smooth illumination model (null when a hinted die pitch says "patterned" up front). */
  background: SmoothBackground | null;
  /** Whether the surface needs the die-lattice search. */
  mayBePatterned: boolean;
}

/**
 * Stage "background". A hinted pitch says "patterned"; otherwise the smooth illumination model
 * is fitted first, and only a surface that stands out of it all over the disk (a die grid, not
 * one large stain) pays for the lattice search.
 */
export function fitIllumination(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  hint: DetectionHints,
): Illumination {
  if (hint.diePitchMm) return { background: null, mayBePatterned: true };
  const background = fitSmoothBackground(work, wafer.analysis, noise.sigmaMap);
  const structured = structuredBlockShare(
    work,
    background,
    wafer.analysis,
    LATTICE.structuredSigmas * noise.sigmaMap,
    LATTICE.structuredBlocks,
  );
  return { background, mayBePatterned: structured > LATTICE.structuredShare };
}

/** Stage "lattice": the die lattice, or null when the surface shows no clear periodicity. */
export function findLattice(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  hint: DetectionHints,
  /** A map-sized buffer first written after this stage, lent for the search's coarse map. */
  lent?: Float32Array,
): Lattice | null {
  const { analysis, mmPerPx, circle, rim } = wafer;
  const scale = work.scale;
  const expected = hint.diePitchMm
    ? { x: hint.diePitchMm.x / mmPerPx / scale, y: hint.diePitchMm.y / mmPerPx / scale }
    : undefined;
  return measureLattice(
    work,
    analysis,
    (2 * circle.r) / scale,
    rim.notchAngleDeg,
    noise.sigmaMap,
    expected,
    lent,
  );
}

/** Stage "residual" of a bare wafer: the map less its smooth illumination model. */
export function bareResidual(
  work: FloatMap,
  wafer: WaferPlace,
  noise: Noise,
  background: SmoothBackground | null,
  /** A buffer of the map's size (subtractBackground writes every value), else a new one. */
  buffer?: Float32Array,
): Float32Array {
  const model = background ?? fitSmoothBackground(work, wafer.analysis, noise.sigmaMap);
  const residual = buffer ?? new Float32Array(work.width * work.height);
  if (residual.length !== work.width * work.height)
    throw new RangeError(
      `residual buffer of ${residual.length} values for a ${work.width}x${work.height} map`,
    );
  subtractBackground(work, model, residual);
  return residual;
}
