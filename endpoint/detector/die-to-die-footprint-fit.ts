// The shift model's coefficients per pair direction, fitted on the wafer's own footprints (trimmed least squares, bounded by what a shift can carry).

import type { Direction } from "./die-to-die-footprint-reader.ts";
import { FOOTPRINT_FLUX } from "./thresholds.ts";

/**
 * Fits flux = alpha Xx + beta Yy + gamma Xy (the linear readings of one direction) by least
 * squares, once more without the footprints beyond FOOTPRINT_FLUX.trimSigmas of the first fit
 * (defects, and detail the model does not describe), and sets the direction's bounds to each
 * coefficient's magnitude plus FOOTPRINT_FLUX.coefficientSigmas standard errors, within
 * shiftBounds. The coefficients are the same for every pixel (the pair's fractions, the
 * lattice's error and the sampling phase do not change across the wafer), so the wafer measures them.
 */
export function fitDirection(dir: Direction, readings: Float64Array, count: number): void {
  // Footprints kept in the fit (all in the first pass).
  const kept = new Uint8Array(count).fill(1);
  const residuals = new Float64Array(count);
  const magnitudes = new Float64Array(count);
  const xtx = new Float64Array(9);
  const xty = new Float64Array(3);
  for (let pass = 0; pass < 2; pass++) {
    xtx.fill(0);
    xty.fill(0);
    let used = 0;
    for (let n = 0; n < count; n++) {
      if (!kept[n]) continue;
      const f = readings[4 * n] as number;
      const u = readings[4 * n + 1] as number;
      const v = readings[4 * n + 2] as number;
      const w = readings[4 * n + 3] as number;
      xty[0] = (xty[0] as number) + u * f;
      xty[1] = (xty[1] as number) + v * f;
      xty[2] = (xty[2] as number) + w * f;
      xtx[0] = (xtx[0] as number) + u * u;
      xtx[1] = (xtx[1] as number) + u * v;
      xtx[2] = (xtx[2] as number) + u * w;
      xtx[4] = (xtx[4] as number) + v * v;
      xtx[5] = (xtx[5] as number) + v * w;
      xtx[8] = (xtx[8] as number) + w * w;
      used++;
    }
    xtx[3] = xtx[1] as number;
    xtx[6] = xtx[2] as number;
    xtx[7] = xtx[5] as number;
    const inverse = invert3(xtx);
    if (!inverse || used < 16) return;
    const coefficient = [0, 1, 2].map(
      (i) =>
        (inverse[3 * i] as number) * (xty[0] as number) +
        (inverse[3 * i + 1] as number) * (xty[1] as number) +
        (inverse[3 * i + 2] as number) * (xty[2] as number),
    ) as [number, number, number];
    let m = 0;
    for (let n = 0; n < count; n++) {
      const e =
        (readings[4 * n] as number) -
        coefficient[0] * (readings[4 * n + 1] as number) -
        coefficient[1] * (readings[4 * n + 2] as number) -
        coefficient[2] * (readings[4 * n + 3] as number);
      residuals[n] = e;
      if (kept[n]) magnitudes[m++] = Math.abs(e);
    }
    const sigma = MAD_TO_SIGMA * quantileOf(magnitudes.subarray(0, m), 0.5);
    if (pass === 0) {
      const limit = FOOTPRINT_FLUX.trimSigmas * sigma;
      for (let n = 0; n < count; n++) kept[n] = Math.abs(residuals[n] as number) <= limit ? 1 : 0;
      continue;
    }
    const z = FOOTPRINT_FLUX.coefficientSigmas;
    const caps = [dir.alpha, dir.beta, dir.gamma];
    const bound = (i: number) =>
      Math.min(
        caps[i] as number,
        Math.abs(coefficient[i] as number) + z * sigma * Math.sqrt(inverse[4 * i] as number),
      );
    dir.alpha = bound(0);
    dir.beta = bound(1);
    dir.gamma = bound(2);
  }
}

const MAD_TO_SIGMA = 1.4826;

/** The inverse of a symmetric 3x3 matrix (row-major), or null when it is singular. */
function invert3(m: Float64Array): Float64Array | null {
  const at = (n: number) => m[n] as number;
  const [a, b, c, d, e, f, g, h, i] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(at) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!(Math.abs(det) > 1e-12 * Math.max(1, Math.abs(a * e * i)))) return null;
  return Float64Array.from(
    [
      A,
      -(b * i - c * h),
      b * f - c * e,
      B,
      a * i - c * g,
      -(a * f - c * d),
      C,
      -(a * h - b * g),
      a * e - b * d,
    ],
    (v) => v / det,
  );
}

/** Quantile q of values (sorted in place). */
export function quantileOf(values: Float64Array, q: number): number {
  values.sort();
  return values[Math.min(values.length - 1, Math.floor(q * values.length))] as number;
}
