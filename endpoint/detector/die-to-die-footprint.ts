// The die-to-die allowance judged over a particle's footprint: where the residual carries more one-signed flux than a sub-pixel shift of the references can put there, the allowance is given back.
import type { StandingOut } from "./die-to-die.ts";
import {
  candidateFloor,
  localMaxima,
  localMaximaAmong,
  windowInside,
} from "./die-to-die-footprint-candidates.ts";
import { fitDirection, quantileOf } from "./die-to-die-footprint-fit.ts";
import {
  BOX,
  directionsOf,
  FootprintReader,
  HALF,
  modelBound,
  RING,
} from "./die-to-die-footprint-reader.ts";
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { FOOTPRINT_FLUX } from "./thresholds.ts";

/**
 * Why this works. The per-pixel allowance (share x the reference's 2x2 range - sigma) ignores
 * shape, so on motif detail it forgives part of a particle. What a sub-pixel shift or the
 * bilinear samples' blur leaves in a pair difference is a sum of second differences of the
 * reference, m = alpha Dxx R + beta Dyy R + gamma Dxy R, with alpha, beta, gamma the same over a
 * few pixels (they follow from the direction's fractional offset, the lattice's error and the
 * test die's phase, all constant within a die). Resampling conserves the local integral: the
 * signed sum of m over a box telescopes to the reference's steps at the box's sides, so it is
 * two-signed and sums to little, while a particle (the spec's compact bright or dark spot) adds
 * its whole one-signed flux. So, per direction, over the 3x3 footprint of a candidate: the
 * signed sum of the raw pair differences, less the die's local level (read on the footprint's
 * ring), against the most a shift could put there (the telescoped sums, with alpha, beta, gamma
 * as large as a fit on the wafer's own footprints allows, never more than the shift model's
 * limits) plus the statistic's own noise (measured on the wafer). What exceeds that is
 * flux no shift explains; that share of the allowance is taken back on the footprint's pixels
 * of the flux's sign. The rest (two-signed leftovers, lines that run through the ring, die
 * levels) keeps its allowance.
 */

export interface FootprintOutcome {
  /** Local maxima of |residual| examined. */
  candidates: number;
  /** Footprints whose allowance was taken back in at least three directions. */
  restored: number;
  /** The flux threshold over the shift model (map units), measured on this wafer; 0 when not measured. */
  threshold: number;
}

/**
 * Takes back the allowance where a footprint carries one-signed flux beyond what a shift can
 * produce (see the comment at the top). Writes only pixels whose residual grows; every other
 * pixel keeps the value dieToDieResidual gave it. Runs before levelDies, on the smoothed map
 * the residual was computed on, with the same lattice, sigma and edge mask.
 */
export function restoreOneSignedFootprints(
  map: FloatMap,
  a: Vector,
  b: Vector,
  region: DiskRegion,
  sigma: number,
  edgeMask: Uint8Array,
  residual: Float32Array,
  /**
   * dieToDieResidual's list of the pixels that may stand out, when no pass since has raised a
   * pixel's |residual| (boundInterpolationError only lowers them): the candidates are then
   * found among its pixels (the same ones, in the same order) instead of by a walk over the disk.
   */
  standing?: StandingOut,
): FootprintOutcome {
  const { width, height, data } = map;
  const none = { candidates: 0, restored: 0, threshold: 0 };
  if (!(sigma > 0)) return none;
  const dirs = directionsOf(a, b, width);
  const reader = new FootprintReader(data, width);
  const { cx, cy, r } = region;
  const y0 = Math.max(HALF + 1, Math.ceil(cy - r));
  const y1 = Math.min(height - HALF - 2, Math.floor(cy + r));
  // The shift model's coefficients and the statistic's noise, on this wafer: a sparse grid of
  // footprints (defects are a vanishing share of them), both signs, every direction. Correlated
  // noise, JPEG and whatever the model leaves on this wafer's motif all show there.
  const step = Math.max(
    2,
    Math.round(Math.sqrt((Math.PI * r * r) / FOOTPRINT_FLUX.noiseFootprints)),
  );
  // Candidates: interior local maxima of |residual| where the allowance acts in three
  // directions or more (elsewhere it cannot have cut the 2nd smallest of four).
  const floor = candidateFloor(sigma);
  const candidates: number[] = [];
  const maxima = standing?.serves(region, width, floor)
    ? localMaximaAmong(standing, residual, width, region, y0, y1, floor)
    : localMaxima(residual, width, region, y0, y1, floor);
  for (const at of maxima) {
    const x = at % width;
    let acting = 0;
    for (const dir of dirs) if (reader.allowance(at, dir, sigma) > 0) acting++;
    if (acting >= 3 && windowInside(x, (at - x) / width, width, edgeMask, region))
      candidates.push(at);
  }
  // Nothing the allowance can have cut: the wafer's statistic need not be measured.
  if (candidates.length === 0) return none;
  const grid: number[] = [];
  for (let y = y0; y <= y1; y += step)
    for (
      let x = Math.max(HALF + 1, Math.ceil(cx - r));
      x < width - HALF - 2 && x <= cx + r;
      x += step
    )
      if (windowInside(x, y, width, edgeMask, region)) grid.push(y * width + x);
  if (grid.length < FOOTPRINT_FLUX.minNoiseFootprints) return none;
  // One read per grid footprint and direction: the linear readings fit the shift model's
  // coefficients; the rest (box, ring levels, |telescoped sums|, the ring's |D2|) gives the
  // flux over the fitted model's bound, whose distribution is the statistic's null here.
  const count = grid.length;
  const linear = dirs.map(() => new Float64Array(4 * count));
  const STORED = 6 + 3 * RING;
  const stored = new Float64Array(4 * count * STORED);
  grid.forEach((at, n) => {
    dirs.forEach((dir, k) => {
      reader.read(at, dir);
      reader.linear(linear[k] as Float64Array, 4 * n);
      const base = (n * 4 + k) * STORED;
      stored[base] = reader.flux(1);
      stored[base + 1] = reader.flux(-1);
      stored[base + 2] = Math.abs(reader.sumXx);
      stored[base + 3] = Math.abs(reader.sumYy);
      stored[base + 4] = Math.abs(reader.sumXy);
      stored.set(reader.ringAbs, base + 6);
    });
  });
  dirs.forEach((dir, k) => {
    fitDirection(dir, linear[k] as Float64Array, count);
  });
  const excess = new Float64Array(8 * count);
  const models = new Float64Array(8 * count);
  for (let n = 0; n < count; n++)
    dirs.forEach((dir, k) => {
      const base = (n * 4 + k) * STORED;
      const model = modelBound(
        dir,
        stored[base + 2] as number,
        stored[base + 3] as number,
        stored[base + 4] as number,
        stored,
        base + 6,
      );
      excess[8 * n + 2 * k] = (stored[base] as number) - model;
      excess[8 * n + 2 * k + 1] = (stored[base + 1] as number) - model;
      models[8 * n + 2 * k] = model;
      models[8 * n + 2 * k + 1] = model;
    });
  // The statistic's own noise: where a shift could put little (the lowest share of the
  // footprints by the model's bound), the flux over the bound is noise alone; on motif detail
  // it sits far below (the bound is a bound), and mixing the two would widen the spread.
  const flatModel = quantileOf(models.slice(), FOOTPRINT_FLUX.flatShare);
  const flat = excess.filter((_, n) => (models[n] as number) <= flatModel);
  const median = quantileOf(flat, 0.5);
  const spread = quantileOf(flat, FOOTPRINT_FLUX.oneSigmaQuantile) - median;
  if (!(spread > 0)) return none;
  // And whatever the model leaves undescribed on this wafer's motif: no more than that share of
  // all grid footprints may clear the threshold.
  const threshold = Math.max(
    median + FOOTPRINT_FLUX.fluxSigmas * spread,
    quantileOf(excess, 1 - FOOTPRINT_FLUX.gridPassShare),
  );
  const shrink = new Float64Array(4);
  const differences = Array.from({ length: 4 }, () => new Float64Array(9));
  const allowances = Array.from({ length: 4 }, () => new Float64Array(9));
  const errors = new Float64Array(4);
  const updates: Array<[number, number]> = [];
  let restored = 0;
  for (const at of candidates) {
    const sign = (residual[at] as number) > 0 ? 1 : -1;
    let taken = 0;
    dirs.forEach((dir, k) => {
      reader.read(at, dir);
      const flux = reader.flux(sign);
      const beyond = flux - reader.model(dir) - threshold;
      const takes = beyond > 0 && flux > 0;
      shrink[k] = takes ? Math.min(1, beyond / flux) : 0;
      if (takes) taken++;
      const diff = differences[k] as Float64Array;
      for (let n = 0; n < 9; n++) diff[n] = reader.difference[BOX[n] as number] as number;
    });
    // The residual is the 2nd smallest of four: fewer than three directions cannot move it.
    if (taken < 3) continue;
    restored++;
    dirs.forEach((dir, k) => {
      const allow = allowances[k] as Float64Array;
      for (let n = 0; n < 9; n++)
        allow[n] = reader.allowance(at + (Math.floor(n / 3) - 1) * width + (n % 3) - 1, dir, sigma);
    });
    for (let n = 0; n < 9; n++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) {
        const d = (differences[k] as Float64Array)[n] as number;
        let allowance = (allowances[k] as Float64Array)[n] as number;
        if (d * sign > 0) allowance *= 1 - (shrink[k] as number);
        const e = d - Math.min(Math.max(d, -allowance), allowance);
        errors[k] = Math.abs(e);
        sum += e;
      }
      errors.sort();
      const value = Math.sign(sum) * (errors[1] as number);
      updates.push([at + (Math.floor(n / 3) - 1) * width + (n % 3) - 1, value]);
    }
  }
  // Written after every candidate was read, so no footprint reads another's restored pixels.
  for (const [q, value] of updates)
    if (Math.abs(value) > Math.abs(residual[q] as number)) residual[q] = value;
  return { candidates: candidates.length, restored, threshold };
}
