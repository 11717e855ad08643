// Reading the rim profile: the orientation notch (V, ~1% of the radius deep) and edge chips.
import { solveLinear } from "./background.ts";
import { normalEquationsKernel } from "./frame-passes.ts";
import { angleDistanceDeg, type Circle } from "./geometry.ts";
import type { RimProfile } from "./locate-rays.ts";
import { selectKthMagnitude } from "./select.ts";
import { RIM, RIM_READING, SPEC } from "./thresholds.ts";

export interface RimDeficit {
  /** Centre angle in degrees, clockwise from image +x. */
  angleDeg: number;
  depthPx: number;
  widthPx: number;
  areaPx: number;
  /** How far the deficit is from a 90-degree V of ~1% radius depth (0 = perfect notch). */
  notchCost: number;
  /**
   * Steepest wall, px: the most that the deficit of two neighbouring traced rays (across the
   * run and into its ends) differs by beyond their distance apart along the rim. A 90-degree V
   * falls 1 px per px, so a notch reads about 0 here (its trace noise only); a round bite's
   * edge reads most of its depth.
   */
  wallExcessPx: number;
  bbox: { x0: number; y0: number; x1: number; y1: number };
  centroid: { x: number; y: number };
}

/** Standard normal CDF (erf by Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Inverse of normalCdf by bisection (only evaluated once, at load). */
function normalQuantile(p: number): number {
  let lo = -8;
  let hi = 8;
  for (let i = 0; i < 80; i++) {
    const mid = 0.5 * (lo + hi);
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/**
 * How much shallower than it is a 90-degree V notch reads on the rim trace, in sigmas of the
 * rim's edge spread (a Gaussian PSF: optics, the spec's blur, the camera). The trace follows the
 * level RIM.traceShare of the way from chuck to wafer, where the chuck's share of the PSF is
 * c = 1 - traceShare. Along the straight rim that level lies Phi^-1(c) sigmas out on the chuck
 * side (the fitted rim shape carries that offset). At the V's tip the chuck is a quarter plane
 * (two perpendicular half planes, so its share is the product Phi(u) Phi(v)): on the bisector the
 * level lies where Phi(s / (sqrt 2 sigma))^2 = c, i.e. s = sqrt(2) Phi^-1(sqrt c) sigmas out. The
 * traced depth is the depth less the difference: 0.86 sigma at traceShare 0.3. (The rays'
 * spacing costs depth too: see readRim.)
 */
export const NOTCH_TIP_LOSS_SIGMAS =
  Math.SQRT2 * normalQuantile(Math.sqrt(1 - RIM.traceShare)) - normalQuantile(1 - RIM.traceShare);

export interface RimReading {
  notchAngleDeg: number;
  notchSource: "metadata" | "detected";
  /** The deficit read as the notch (none when the notch was not seen, e.g. clipped by the frame). */
  notch?: RimDeficit;
  chips: RimDeficit[];
  /** Minimum depth a rim deficit needed to count, px. */
  deficitThresholdPx: number;
  /**
   * How much steeper than its 45-degree sides a notch's wall may read, px: the trace noise of
   * two rays (RIM_READING.notchSideNoiseSigmas x sqrt 2 rim sigmas) plus the rounding of the
   * V's corners by the rim's edge spread (NOTCH_TIP_LOSS_SIGMAS of it: at the V's mouth the
   * wafer is the convex corner the tip's argument describes, so the trace enters the V late and
   * catches up with its side within a ray or two).
   */
  notchWallAllowancePx: number;
  shape: RimShape;
}

/**
 * The rim's own shape: r(phi) = r0 + sum over k of (c_k cos k phi + s_k sin k phi), fitted
 * robustly, so a disk slightly out of round (an ellipse is the k = 2 term) is not read as a
 * long shallow deficit that swallows the notch or hides chips.
 */
export interface RimShape {
  r0: number;
  cos: Float64Array;
  sin: Float64Array;
  /** Robust spread of the rim radii about the shape, px: the floor for calling a deficit. */
  sigmaPx: number;
}

export function rimRadiusAt(shape: RimShape, phi: number): number {
  let r = shape.r0;
  for (let k = 1; k <= shape.cos.length; k++) {
    r +=
      (shape.cos[k - 1] as number) * Math.cos(k * phi) +
      (shape.sin[k - 1] as number) * Math.sin(k * phi);
  }
  return r;
}

/**
 * Fits the rim shape to the traced radii by iteratively reweighted least squares (Tukey's
 * biweight at 4.685 robust sigmas): the notch and chips are a few % of the rays and get
 * weight 0, so the model follows the disk, not its bites.
 */
export function fitRimShape(rim: RimProfile, r0: number, order: number = RIM.shapeOrder): RimShape {
  const n = rim.radii.length;
  const m = 1 + 2 * order;
  // The weighted normal equations in the frame kernel (frame.wat normalSums, every row's own
  // sums: the same (basis_p w) basis_q and (basis_p w) r added from +0 in ray order, skipping
  // weight 0, as the loops below): its basis (each ray's terms, then its radius) is filled
  // once, its weights are the fit's own.
  const kernelSums = normalEquationsKernel(n, m, true);
  const weights = kernelSums ? kernelSums.weights : new Float64Array(n);
  for (let i = 0; i < n; i++) weights[i] = Number.isNaN(rim.radii[i] as number) ? 0 : 1;
  let coef: Float64Array = new Float64Array(m);
  coef[0] = r0;
  // The Fourier basis of each ray, computed once for all reweighting passes.
  const basis = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const phi = rim.angles[i] as number;
    const row = i * m;
    basis[row] = 1;
    for (let k = 1; k <= order; k++) {
      basis[row + 2 * k - 1] = Math.cos(k * phi);
      basis[row + 2 * k] = Math.sin(k * phi);
    }
  }
  const columns = m + 1;
  if (kernelSums) {
    const into = kernelSums.basis;
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < m; p++) into[i * columns + p] = basis[i * m + p] as number;
      into[i * columns + m] = rim.radii[i] as number;
    }
  }
  const residuals = new Float64Array(n);
  const abs = new Float64Array(n);
  let sigma = 0;
  for (let iteration = 0; iteration < 6; iteration++) {
    const a = new Float64Array(m * m);
    const b = new Float64Array(m);
    if (kernelSums) {
      const sums = kernelSums.sums();
      for (let p = 0; p < m; p++) {
        for (let q = 0; q < m; q++) a[p * m + q] = sums[p * columns + q] as number;
        b[p] = sums[p * columns + m] as number;
      }
    } else if (m === 7) normalEquationsOfSeven(basis, rim.radii, weights, a, b);
    else {
      for (let i = 0; i < n; i++) {
        const w = weights[i] as number;
        if (w === 0) continue;
        const row = i * m;
        const r = rim.radii[i] as number;
        for (let p = 0; p < m; p++) {
          const bp = (basis[row + p] as number) * w;
          b[p] = (b[p] as number) + bp * r;
          for (let q = 0; q < m; q++)
            a[p * m + q] = (a[p * m + q] as number) + bp * (basis[row + q] as number);
        }
      }
    }
    const solved = solveLinear(a, b, m);
    if (!solved) break;
    coef = solved;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const r = rim.radii[i] as number;
      if (Number.isNaN(r)) continue;
      const row = i * m;
      const model = m === 7 ? modelOfSeven(basis, row, coef) : modelOf(basis, row, coef, m);
      residuals[i] = r - model;
      abs[count++] = Math.abs(r - model);
    }
    // Sub-pixel tracing leaves ~0.1 px of spread at best; the floor keeps weights sane.
    // |residual|s: never -0; a NaN (a fit gone to NaN) sends selectKthMagnitude to quickselect.
    const median = count > 0 ? selectKthMagnitude(abs, count, Math.floor(count / 2)) : 0;
    sigma = Math.max(0.1, 1.4826 * median);
    const c = 4.685 * sigma;
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(rim.radii[i] as number)) continue;
      const z = (residuals[i] as number) / c;
      weights[i] = Math.abs(z) < 1 ? (1 - z * z) ** 2 : 0;
    }
  }
  const cos = new Float64Array(order);
  const sin = new Float64Array(order);
  for (let k = 1; k <= order; k++) {
    cos[k - 1] = coef[2 * k - 1] as number;
    sin[k - 1] = coef[2 * k] as number;
  }
  return { r0: coef[0] as number, cos, sin, sigmaPx: sigma };
}

/** The fitted radius of one ray: the basis row times the coefficients, summed from +0 in order. */
function modelOf(basis: Float64Array, row: number, coef: Float64Array, m: number): number {
  let model = 0;
  for (let p = 0; p < m; p++) model += (basis[row + p] as number) * (coef[p] as number);
  return model;
}

/**
 * modelOf for seven basis functions, written out: the same products added in the same order
 * from the same +0 (so a -0 sum still comes out +0), hence the same double.
 */
function modelOfSeven(basis: Float64Array, row: number, coef: Float64Array): number {
  let model = 0;
  model += (basis[row] as number) * (coef[0] as number);
  model += (basis[row + 1] as number) * (coef[1] as number);
  model += (basis[row + 2] as number) * (coef[2] as number);
  model += (basis[row + 3] as number) * (coef[3] as number);
  model += (basis[row + 4] as number) * (coef[4] as number);
  model += (basis[row + 5] as number) * (coef[5] as number);
  model += (basis[row + 6] as number) * (coef[6] as number);
  return model;
}

/**
 * fitRimShape's weighted normal equations for seven basis functions (RIM.shapeOrder 3), two
 * rows of the matrix per pass over the rays (rows 0-1, 2-3, 4-5, then 6) with their sums in
 * locals: each sum takes the same terms, (basis_p * w) * basis_q and (basis_p * w) * r, in the
 * same order (rays rising), from the same +0 start as the general loop, so every entry is the
 * same double; the general loop read and wrote each of the 49 entries in memory per ray (about
 * 2.6 ms a fit of 4,000 rays), and a pass per row read every ray's weight and basis seven times.
 */
function normalEquationsOfSeven(
  basis: Float64Array,
  radii: Float64Array,
  weights: Float64Array,
  a: Float64Array,
  b: Float64Array,
): void {
  for (let p = 0; p < 6; p += 2) normalEquationRowsOfSeven(basis, radii, weights, a, b, p);
  normalEquationRowOfSeven(basis, radii, weights, a, b, 6);
}

/** Rows p and p + 1 of the seven-function normal equations, in one pass over the rays. */
function normalEquationRowsOfSeven(
  basis: Float64Array,
  radii: Float64Array,
  weights: Float64Array,
  a: Float64Array,
  b: Float64Array,
  p: number,
): void {
  const n = weights.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let s5 = 0;
  let s6 = 0;
  let sr = 0;
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  let t4 = 0;
  let t5 = 0;
  let t6 = 0;
  let tr = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i] as number;
    if (w === 0) continue;
    const row = i * 7;
    const r = radii[i] as number;
    const b0 = basis[row] as number;
    const b1 = basis[row + 1] as number;
    const b2 = basis[row + 2] as number;
    const b3 = basis[row + 3] as number;
    const b4 = basis[row + 4] as number;
    const b5 = basis[row + 5] as number;
    const b6 = basis[row + 6] as number;
    const bp = (basis[row + p] as number) * w;
    const bq = (basis[row + p + 1] as number) * w;
    sr += bp * r;
    s0 += bp * b0;
    s1 += bp * b1;
    s2 += bp * b2;
    s3 += bp * b3;
    s4 += bp * b4;
    s5 += bp * b5;
    s6 += bp * b6;
    tr += bq * r;
    t0 += bq * b0;
    t1 += bq * b1;
    t2 += bq * b2;
    t3 += bq * b3;
    t4 += bq * b4;
    t5 += bq * b5;
    t6 += bq * b6;
  }
  b[p] = sr;
  b[p + 1] = tr;
  const at = p * 7;
  a[at] = s0;
  a[at + 1] = s1;
  a[at + 2] = s2;
  a[at + 3] = s3;
  a[at + 4] = s4;
  a[at + 5] = s5;
  a[at + 6] = s6;
  a[at + 7] = t0;
  a[at + 8] = t1;
  a[at + 9] = t2;
  a[at + 10] = t3;
  a[at + 11] = t4;
  a[at + 12] = t5;
  a[at + 13] = t6;
}

/** Row p of the seven-function normal equations, in one pass over the rays. */
function normalEquationRowOfSeven(
  basis: Float64Array,
  radii: Float64Array,
  weights: Float64Array,
  a: Float64Array,
  b: Float64Array,
  p: number,
): void {
  const n = weights.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let s5 = 0;
  let s6 = 0;
  let sr = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i] as number;
    if (w === 0) continue;
    const row = i * 7;
    const bp = (basis[row + p] as number) * w;
    sr += bp * (radii[i] as number);
    s0 += bp * (basis[row] as number);
    s1 += bp * (basis[row + 1] as number);
    s2 += bp * (basis[row + 2] as number);
    s3 += bp * (basis[row + 3] as number);
    s4 += bp * (basis[row + 4] as number);
    s5 += bp * (basis[row + 5] as number);
    s6 += bp * (basis[row + 6] as number);
  }
  b[p] = sr;
  const at = p * 7;
  a[at] = s0;
  a[at + 1] = s1;
  a[at + 2] = s2;
  a[at + 3] = s3;
  a[at + 4] = s4;
  a[at + 5] = s5;
  a[at + 6] = s6;
}

/** Contiguous runs (circularly) of rays whose deficit exceeds `low`, keeping those peaking over `high`. */
function deficitRuns(deficit: Float64Array, low: number, high: number): number[][] {
  const n = deficit.length;
  const above = (i: number) => (deficit[(i + n) % n] as number) > low;
  let start = 0;
  while (start < n && above(start)) start++;
  if (start === n) return [];
  const runs: number[][] = [];
  let current: number[] = [];
  for (let step = 1; step <= n; step++) {
    const i = (start + step) % n;
    if (above(i)) current.push(i);
    else if (current.length > 0) {
      if (current.some((j) => (deficit[j] as number) > high)) runs.push(current);
      current = [];
    }
  }
  return runs;
}

/**
 * The steepest wall of a run (RimDeficit.wallExcessPx): over the traced rays of the run and
 * the nearest traced ray beyond each end, the largest |deficit step| less the rays' distance
 * apart along the rim. Bridged (untraced) rays are skipped, so a step across them is judged
 * against their whole distance.
 */
function wallExcess(
  run: number[],
  deficit: Float64Array,
  traced: Uint8Array,
  spacing: number,
): number {
  const n = deficit.length;
  const first = run[0] as number;
  const last = run[run.length - 1] as number;
  // Rays in order along the run, with the nearest traced ray outside each end (within n/4).
  const order: number[] = [];
  for (let step = 1; step < n / 4; step++) {
    const i = (first - step + n) % n;
    if (traced[i]) {
      order.push(i);
      break;
    }
  }
  const offsets: number[] = order.length ? [-(first - (order[0] as number) + n) % n] : [];
  for (const i of run) {
    if (!traced[i]) continue;
    order.push(i);
    offsets.push((i - first + n) % n);
  }
  for (let step = 1; step < n / 4; step++) {
    const i = (last + step) % n;
    if (traced[i]) {
      order.push(i);
      offsets.push(((last - first + n) % n) + step);
      break;
    }
  }
  let excess = 0;
  for (let j = 1; j < order.length; j++) {
    const rise = Math.abs(
      (deficit[order[j] as number] as number) - (deficit[order[j - 1] as number] as number),
    );
    const apart = ((offsets[j] as number) - (offsets[j - 1] as number)) * spacing;
    excess = Math.max(excess, rise - apart);
  }
  return excess;
}

function describeRun(
  run: number[],
  rim: RimProfile,
  deficit: Float64Array,
  traced: Uint8Array,
  circle: Circle,
  shape: RimShape,
  /** The depth a spec notch reads on this rim's trace (readRim). */
  expectedNotchDepthPx: number,
): RimDeficit {
  const n = rim.angles.length;
  const first = rim.angles[run[0] as number] as number;
  const unwrap = (phi: number) => {
    let d = phi - first;
    if (d < -Math.PI) d += 2 * Math.PI;
    if (d > Math.PI) d -= 2 * Math.PI;
    return d;
  };
  let depth = 0;
  let weight = 0;
  let angleSum = 0;
  let cxSum = 0;
  let cySum = 0;
  let area = 0;
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  const spacing = (2 * Math.PI) / n;
  const offsets: number[] = [];
  for (const i of run) {
    const d = deficit[i] as number;
    const phi = rim.angles[i] as number;
    const rel = unwrap(phi);
    offsets.push(rel * circle.r);
    depth = Math.max(depth, d);
    weight += d;
    angleSum += d * rel;
    const c = Math.cos(phi);
    const s = Math.sin(phi);
    const edge = rimRadiusAt(shape, phi);
    const mid = edge - d / 2;
    cxSum += d * (circle.cx + mid * c);
    cySum += d * (circle.cy + mid * s);
    area += d * spacing * edge;
    for (const r of [edge - d, edge]) {
      const x = circle.cx + r * c;
      const y = circle.cy + r * s;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  const centreRel = angleSum / weight;
  const widthPx = (run.length + 1) * spacing * circle.r;
  // Best 90-degree V (sides at 45 degrees, so half-width equals depth) through the profile.
  const centreS = centreRel * circle.r;
  let best = Number.POSITIVE_INFINITY;
  for (let k = -10; k <= 10; k++) {
    const s0 = centreS + (k / 10) * spacing * circle.r;
    for (let scale = 0.7; scale <= 1.3001; scale += 0.05) {
      const vDepth = depth * scale;
      let err = 0;
      run.forEach((i, j) => {
        const model = Math.max(0, vDepth - Math.abs((offsets[j] as number) - s0));
        err += ((deficit[i] as number) - model) ** 2;
      });
      best = Math.min(best, Math.sqrt(err / run.length) / depth);
    }
  }
  const notchCost = Math.abs(Math.log(depth / expectedNotchDepthPx)) / Math.log(2) + best / 0.15;
  const angleDeg = (((((first + centreRel) * 180) / Math.PI) % 360) + 360) % 360;
  return {
    angleDeg,
    depthPx: depth,
    widthPx,
    areaPx: area,
    notchCost,
    wallExcessPx: wallExcess(run, deficit, traced, spacing * circle.r),
    bbox: { x0, y0, x1, y1 },
    centroid: { x: cxSum / weight, y: cySum / weight },
  };
}

/**
 * Longest gap of untraced rays bridged (RIM_READING.bridgeChipWidths of the spec's smallest
 * chip). The chip sizes scale with the frame, which readRim does not see: the frame is taken as
 * small as this disk allows (the disk at 98% of its shorter side), so the bridge is never longer
 * than the spec's rule allows.
 */
function maxBridgeRays(radiusPx: number, raySpacingPx: number): number {
  const smallestFrame = (2 * radiusPx) / 0.98;
  const smallestChipPx = (SPEC.edgeChipPx[0] * smallestFrame) / 2048;
  return Math.max(1, Math.floor((RIM_READING.bridgeChipWidths * smallestChipPx) / raySpacingPx));
}

/**
 * Fills each gap of untraced rays no longer than `maxRays`, with traced rays on both sides, by
 * the straight line between their deficits (left 0 otherwise, as before): a chip whose rays a
 * failed trace interrupts is read whole, not as narrow pieces that look like slots or a notch.
 */
function bridgeUntraced(deficit: Float64Array, traced: Uint8Array, maxRays: number): void {
  const n = deficit.length;
  let start = 0;
  while (start < n && !traced[start]) start++;
  if (start === n) return;
  // Walk once round the circle from a traced ray; `last` is the latest traced ray seen.
  let last = start;
  for (let step = 1; step <= n; step++) {
    const i = (start + step) % n;
    if (!traced[i]) continue;
    const gap = ((i - last + n) % n) - 1;
    if (gap > 0 && gap <= maxRays) {
      const a = deficit[last] as number;
      const b = deficit[i] as number;
      for (let k = 1; k <= gap; k++) deficit[(last + k) % n] = a + ((b - a) * k) / (gap + 1);
    }
    last = i;
  }
}

/**
 * The notch's sides fall at 45 degrees: no wall steeper than that by more than the reading's
 * allowance (RimReading.notchWallAllowancePx). A round bite's edge is steeper: a chip, whatever
 * its depth, even where the notch itself is out of the frame and no better candidate exists.
 */
export function hasNotchWalls(deficit: RimDeficit, allowancePx: number): boolean {
  return deficit.wallExcessPx <= allowancePx;
}

/** Splits the rim's deficits (against its fitted shape) into the notch and edge chips. */
export function readRim(
  rim: RimProfile,
  circle: Circle,
  hintedNotchDeg: number | undefined,
  /**
   * The rim's edge spread (Gaussian sigma, full-resolution px) when measured: a spec notch then
   * reads NOTCH_TIP_LOSS_SIGMAS of it shallower than 1% of the radius (never below half of it),
   * and a chip that happens to be 1% deep is not taken for it.
   */
  edgeSigmaPx = 0,
): RimReading {
  const n = rim.radii.length;
  const shape = fitRimShape(rim, circle.r);
  const high = Math.max(
    RIM.seedSigmas * shape.sigmaPx,
    RIM.seedFloorPx,
    RIM.seedRadiusShare * circle.r,
  );
  const low = Math.max(RIM.growSigmas * shape.sigmaPx, RIM.growFloorPx);
  const raySpacingPx = ((2 * Math.PI) / n) * circle.r;
  const deficit = new Float64Array(n);
  // A ray that saw no rim, or "rim" further out than the shape by a seed threshold (the rim
  // never stands out of its shape: a failed trace), is unknown.
  const traced = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rim.radii[i] as number;
    if (Number.isNaN(r)) continue;
    const d = rimRadiusAt(shape, rim.angles[i] as number) - r;
    if (d < -high) continue;
    deficit[i] = d;
    traced[i] = 1;
  }
  bridgeUntraced(deficit, traced, maxBridgeRays(circle.r, raySpacingPx));
  // The deepest ray misses the V's tip by up to half a ray spacing, a quarter on average, and a
  // 45-degree side loses as much depth as that offset.
  const nominalNotchDepth = SPEC.notchDepthShare * circle.r;
  const expectedNotchDepth =
    edgeSigmaPx > 0
      ? Math.max(
          0.5 * nominalNotchDepth,
          nominalNotchDepth - NOTCH_TIP_LOSS_SIGMAS * edgeSigmaPx - raySpacingPx / 4,
        )
      : nominalNotchDepth;
  const notchWallAllowancePx =
    RIM_READING.notchSideNoiseSigmas * Math.SQRT2 * shape.sigmaPx +
    NOTCH_TIP_LOSS_SIGMAS * edgeSigmaPx;
  const deficits = deficitRuns(deficit, low, high)
    .filter((run) => run.length >= 2)
    .map((run) => describeRun(run, rim, deficit, traced, circle, shape, expectedNotchDepth));
  let notch: RimDeficit | undefined;
  if (hintedNotchDeg !== undefined) {
    const tolerance = RIM.notchHintToleranceDeg;
    notch = deficits
      .filter((d) => angleDistanceDeg(d.angleDeg, hintedNotchDeg) <= tolerance)
      .sort(
        (a, b) =>
          angleDistanceDeg(a.angleDeg, hintedNotchDeg) -
          angleDistanceDeg(b.angleDeg, hintedNotchDeg),
      )[0];
  } else {
    const [lo, hi] = RIM.notchDepthRange;
    const candidates = deficits
      .filter(
        (d) =>
          d.depthPx > lo * SPEC.notchDepthShare * circle.r &&
          d.depthPx < hi * SPEC.notchDepthShare * circle.r &&
          hasNotchWalls(d, notchWallAllowancePx),
      )
      .sort((a, b) => a.notchCost - b.notchCost);
    notch = candidates[0];
  }
  // A chip is a bite: about as deep as half its width (a V or a round scoop). Deficits much
  // deeper than wide are slots, i.e. dark die streets running out to the rim, not chips. The
  // width is counted in rays, so it is known to one ray spacing: a small chip (12 px at 2048
  // spans a handful of rays) is not called a slot for that rounding.
  const chips = deficits.filter(
    (d) => d !== notch && d.depthPx <= RIM.chipMaxDepthToWidth * (d.widthPx + raySpacingPx),
  );
  return {
    notchAngleDeg: hintedNotchDeg ?? notch?.angleDeg ?? 90,
    notchSource: hintedNotchDeg !== undefined ? "metadata" : "detected",
    ...(notch ? { notch } : {}),
    chips,
    deficitThresholdPx: high,
    notchWallAllowancePx,
    shape,
  };
}
