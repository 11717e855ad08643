// The die-to-die allowance judged over a particle's footprint: where the residual carries more one-signed flux than a sub-pixel shift of the references can put there, the allowance is given back.
import type { StandingOut } from "./die-to-die.ts";
import { pairMisregistrationShare } from "./die-to-die-allowance.ts";
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import { PAIR_DIFFERENCE_GAIN } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { DETECTION, FOOTPRINT_FLUX } from "./thresholds.ts";

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

/** Reference window: the 3x3 footprint, its 5x5 ring, and one more pixel for second differences. */
const SIDE = 7;
const HALF = 3;
const RING = 16;

/** The 16 ring pixels of the 5x5 around the footprint, as (dx, dy) in -2..2. */
const RING_OFFSETS: Array<[number, number]> = [];
for (let dy = -2; dy <= 2; dy++)
  for (let dx = -2; dx <= 2; dx++)
    if (Math.abs(dx) === 2 || Math.abs(dy) === 2) RING_OFFSETS.push([dx, dy]);

interface Shift {
  /** Index offset of the bilinear cell's top-left pixel, and the fractions inside it. */
  offset: number;
  fx: number;
  fy: number;
}

/** One direction's pair of shifts and the shift model's coefficient bounds. */
interface Direction {
  plus: Shift;
  minus: Shift;
  share: number;
  /**
   * Largest |alpha|, |beta|, |gamma| of this wafer: what the pair's second differences were
   * measured to carry (fitDirection), never more than a shift or blur can have (shiftBounds).
   */
  alpha: number;
  beta: number;
  gamma: number;
}

/**
 * The largest coefficients of Dxx R, Dyy R and Dxy R in a pair difference along d. The pair's
 * two bilinear samples sit at fractions (fx, fy) and (1 - fx, 1 - fy); each lies off the
 * pattern by half its blur variance times the second derivative, fx(1 - fx) / 2 along x (no
 * cross term: the weights along x and y are independent). The die under test has its own
 * sampling phase, and the lattice its own error (the pair cancels it to first order): up to
 * DETECTION.samplingPhaseShare more variance per axis, either sign, and a cross term of
 * 2 x 0.5 x dx dy <= that share again.
 */
export function shiftBounds(d: Vector): { alpha: number; beta: number; gamma: number } {
  const fx = d.x - Math.floor(d.x);
  const fy = d.y - Math.floor(d.y);
  const phase = DETECTION.samplingPhaseShare;
  return {
    alpha: 0.5 * (fx * (1 - fx) + phase),
    beta: 0.5 * (fy * (1 - fy) + phase),
    gamma: phase,
  };
}

function shiftOf(x: number, y: number, width: number): Shift {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  return { offset: iy * width + ix, fx: x - ix, fy: y - iy };
}

/** Window index (7x7, row-major) of footprint offset (dx, dy), |dx|, |dy| <= 3. */
const windowIndex = (dx: number, dy: number) => (dy + HALF) * SIDE + dx + HALF;
/** 5x5 index of offset (dx, dy), |dx|, |dy| <= 2. */
const innerIndex = (dx: number, dy: number) => (dy + 2) * 5 + dx + 2;
const BOX = Int32Array.from([-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => innerIndex(dx, dy))));
const RING_INNER = Int32Array.from(RING_OFFSETS, ([dx, dy]) => innerIndex(dx, dy));

/**
 * Reads the footprint of a pixel along one direction: the pair reference over the 7x7 window,
 * the raw pair differences and the reference's second differences over the 5x5; then the box
 * (3x3) sums, the ring's (5x5 border) sums, its second largest and second smallest difference,
 * and each ring pixel's |Dxx R|, |Dyy R|, |Dxy R| (for the shift model's bound). Results are left
 * in the reader's fields (no allocation per read). The caller checks that every reference lies
 * on the wafer.
 */
class FootprintReader {
  readonly difference = new Float64Array(25);
  /** Per ring pixel, |Dxx R|, |Dyy R|, |Dxy R|. */
  readonly ringAbs = new Float64Array(3 * RING);
  box = 0;
  levelPlus = 0;
  levelMinus = 0;
  sumXx = 0;
  sumYy = 0;
  sumXy = 0;
  ringSum = 0;
  ringXx = 0;
  ringYy = 0;
  ringXy = 0;
  private readonly reference = new Float64Array(SIDE * SIDE);
  private readonly xx = new Float64Array(25);
  private readonly yy = new Float64Array(25);
  private readonly xy = new Float64Array(25);
  private readonly data: Float32Array;
  private readonly width: number;
  constructor(data: Float32Array, width: number) {
    this.data = data;
    this.width = width;
  }

  read(at: number, dir: Direction): void {
    const { reference, difference, xx, yy, xy, data, width } = this;
    const { offset: o1, fx: fx1, fy: fy1 } = dir.plus;
    const { offset: o2, fx: fx2, fy: fy2 } = dir.minus;
    let n = 0;
    for (let dy = -HALF; dy <= HALF; dy++) {
      let p = at + dy * width - HALF;
      for (let i = 0; i < SIDE; i++, p++, n++) {
        const q1 = p + o1;
        const l1 = data[q1] as number;
        const t1 = l1 + ((data[q1 + 1] as number) - l1) * fx1;
        const bl1 = data[q1 + width] as number;
        const b1 = bl1 + ((data[q1 + width + 1] as number) - bl1) * fx1;
        const q2 = p + o2;
        const l2 = data[q2] as number;
        const t2 = l2 + ((data[q2 + 1] as number) - l2) * fx2;
        const bl2 = data[q2 + width] as number;
        const b2 = bl2 + ((data[q2 + width + 1] as number) - bl2) * fx2;
        reference[n] = 0.5 * (t1 + (b1 - t1) * fy1 + t2 + (b2 - t2) * fy2);
      }
    }
    n = 0;
    for (let dy = -2; dy <= 2; dy++)
      for (let dx = -2; dx <= 2; dx++, n++) {
        const c = windowIndex(dx, dy);
        const r = reference[c] as number;
        const left = reference[c - 1] as number;
        const right = reference[c + 1] as number;
        const up = c - SIDE;
        const down = c + SIDE;
        xx[n] = left - 2 * r + right;
        yy[n] = (reference[up] as number) - 2 * r + (reference[down] as number);
        xy[n] =
          0.25 *
          ((reference[down + 1] as number) -
            (reference[down - 1] as number) -
            (reference[up + 1] as number) +
            (reference[up - 1] as number));
        difference[n] = (data[at + dy * width + dx] as number) - r;
      }
    let box = 0;
    let sumXx = 0;
    let sumYy = 0;
    let sumXy = 0;
    for (let k = 0; k < 9; k++) {
      const m = BOX[k] as number;
      box += difference[m] as number;
      sumXx += xx[m] as number;
      sumYy += yy[m] as number;
      sumXy += xy[m] as number;
    }
    let ringSum = 0;
    let ringXx = 0;
    let ringYy = 0;
    let ringXy = 0;
    let max1 = Number.NEGATIVE_INFINITY;
    let max2 = Number.NEGATIVE_INFINITY;
    let min1 = Number.POSITIVE_INFINITY;
    let min2 = Number.POSITIVE_INFINITY;
    const ringAbs = this.ringAbs;
    for (let k = 0; k < RING; k++) {
      const m = RING_INNER[k] as number;
      const value = difference[m] as number;
      const vxx = xx[m] as number;
      const vyy = yy[m] as number;
      const vxy = xy[m] as number;
      ringSum += value;
      ringXx += vxx;
      ringYy += vyy;
      ringXy += vxy;
      ringAbs[3 * k] = Math.abs(vxx);
      ringAbs[3 * k + 1] = Math.abs(vyy);
      ringAbs[3 * k + 2] = Math.abs(vxy);
      if (value > max1) {
        max2 = max1;
        max1 = value;
      } else if (value > max2) max2 = value;
      if (value < min1) {
        min2 = min1;
        min1 = value;
      } else if (value < min2) min2 = value;
    }
    this.box = box;
    this.sumXx = sumXx;
    this.sumYy = sumYy;
    this.sumXy = sumXy;
    this.ringSum = ringSum;
    this.ringXx = ringXx;
    this.ringYy = ringYy;
    this.ringXy = ringXy;
    // The die's local level: the ring's second most extreme value on the flux's side, so a
    // level (a reticle die's offset) or a line that crosses the ring (a street, a scratch)
    // cancels, while a compact spot lends the ring only its flank.
    this.levelPlus = max2;
    this.levelMinus = min2;
  }

  /** Signed flux beyond the ring's level, times the sign (+1 or -1). */
  flux(sign: number): number {
    return sign > 0 ? this.box - 9 * this.levelPlus : 9 * this.levelMinus - this.box;
  }

  /**
   * The most a shift can put into the flux with dir's coefficient bounds: the box's telescoped
   * second differences, and the shift's share of the ring's level, bounded by the ring's second
   * smallest bound (the second largest of m is at least minus the second smallest bound).
   */
  model(dir: Direction): number {
    return modelBound(
      dir,
      Math.abs(this.sumXx),
      Math.abs(this.sumYy),
      Math.abs(this.sumXy),
      this.ringAbs,
      0,
    );
  }

  /** The linear version for the fit: box sum less 9/16 of the ring's sum (a die's level cancels). */
  linear(into: Float64Array, base: number): void {
    const share = 9 / RING;
    into[base] = this.box - share * this.ringSum;
    into[base + 1] = this.sumXx - share * this.ringXx;
    into[base + 2] = this.sumYy - share * this.ringYy;
    into[base + 3] = this.sumXy - share * this.ringXy;
  }

  /** The per-pixel allowance of a footprint pixel along dir, as the residual applies it. */
  allowance(at: number, dir: Direction, sigma: number): number {
    return Math.max(
      0,
      dir.share *
        Math.max(this.cellRange(at + dir.plus.offset), this.cellRange(at + dir.minus.offset)) -
        sigma,
    );
  }

  private cellRange(j: number): number {
    const { data, width } = this;
    const p = data[j] as number;
    const q = data[j + 1] as number;
    const r = data[j + width] as number;
    const s = data[j + width + 1] as number;
    return Math.max(p, q, r, s) - Math.min(p, q, r, s);
  }
}

/** FootprintReader.model's bound from stored readings (ring |D2| triples at ringAbs[base..]). */
function modelBound(
  dir: Direction,
  absXx: number,
  absYy: number,
  absXy: number,
  ringAbs: Float64Array,
  base: number,
): number {
  const { alpha, beta, gamma } = dir;
  let least = Number.POSITIVE_INFINITY;
  let second = Number.POSITIVE_INFINITY;
  for (let k = 0; k < RING; k++) {
    const at = base + 3 * k;
    const bound =
      alpha * (ringAbs[at] as number) +
      beta * (ringAbs[at + 1] as number) +
      gamma * (ringAbs[at + 2] as number);
    if (bound < least) {
      second = least;
      least = bound;
    } else if (bound < second) second = bound;
  }
  return alpha * absXx + beta * absYy + gamma * absXy + 9 * second;
}

function directionsOf(a: Vector, b: Vector, width: number): Direction[] {
  const dirs: Vector[] = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  return dirs.map((d) => ({
    plus: shiftOf(d.x, d.y, width),
    minus: shiftOf(-d.x, -d.y, width),
    share: pairMisregistrationShare(d),
    ...shiftBounds(d),
  }));
}

/**
 * Fits flux = alpha Xx + beta Yy + gamma Xy (the linear readings of one direction) by least
 * squares, once more without the footprints beyond FOOTPRINT_FLUX.trimSigmas of the first fit
 * (defects, and detail the model does not describe), and sets the direction's bounds to each
 * coefficient's magnitude plus FOOTPRINT_FLUX.coefficientSigmas standard errors, within
 * shiftBounds. The coefficients are the same for every pixel (the pair's fractions, the
 * lattice's error and the sampling phase do not change across the wafer), so the wafer measures them.
 */
function fitDirection(dir: Direction, readings: Float64Array, count: number): void {
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

/** Whether every reference of the 7x7 window around (x, y) is a pair average on the wafer. */
function windowInside(
  x: number,
  y: number,
  width: number,
  edgeMask: Uint8Array,
  region: DiskRegion,
): boolean {
  const reach = region.r - HALF * Math.SQRT2 - 1;
  if ((x - region.cx) ** 2 + (y - region.cy) ** 2 > reach * reach) return false;
  for (const dy of [-HALF, HALF])
    for (const dx of [-HALF, HALF]) if (edgeMask[(y + dy) * width + x + dx] !== 0) return false;
  return edgeMask[y * width + x] === 0;
}

/**
 * Pixels of rows y0..y1 inside the disk (and HALF + 1 from the map's sides) whose |residual| is
 * at least floor and no less than any of its 8 neighbours'. A small function of its own: the scan
 * passes every map pixel once, and V8 compiles a short loop far better than one inside a long
 * function (2.3 against 0.5 ms on a 1006 px map).
 */
function localMaxima(
  residual: Float32Array,
  width: number,
  region: DiskRegion,
  y0: number,
  y1: number,
  floor: number,
): number[] {
  const { cx, cy, r } = region;
  const found: number[] = [];
  for (let y = y0; y <= y1; y++) {
    const dy = y - cy;
    const half = Math.sqrt(Math.max(0, r * r - dy * dy));
    const from = y * width + Math.max(HALF + 1, Math.ceil(cx - half));
    const to = y * width + Math.min(width - HALF - 2, Math.floor(cx + half));
    for (let at = from; at <= to; at++) {
      const v = residual[at] as number;
      if (v < floor && v > -floor) continue;
      if (!(Math.abs(v) >= floor)) continue;
      if (noNeighbourAbove(residual, width, at, Math.abs(v))) found.push(at);
    }
  }
  return found;
}

/** Whether no pixel of the 3x3 neighbourhood of `at` reads a larger |residual| than m. */
function noNeighbourAbove(residual: Float32Array, width: number, at: number, m: number): boolean {
  for (let j = -width; j <= width; j += width)
    for (let i = -1; i <= 1; i++) if (Math.abs(residual[at + j + i] as number) > m) return false;
  return true;
}

/**
 * localMaxima's answer from dieToDieResidual's list: the list holds, ascending, every pixel of
 * the disk's rows (a superset of localMaxima's spans, which keep HALF + 1 from the map's
 * sides) whose |residual| reaches the list's limit (at most floor), so localMaxima's pixels
 * are those of the list inside its spans that pass the same tests, in the same order.
 */
function localMaximaAmong(
  standing: StandingOut,
  residual: Float32Array,
  width: number,
  region: DiskRegion,
  y0: number,
  y1: number,
  floor: number,
): number[] {
  const { cx, cy, r } = region;
  const { indices, count } = standing;
  const found: number[] = [];
  let row = -1;
  let from = 0;
  let to = -1;
  for (let n = 0; n < count; n++) {
    const at = indices[n] as number;
    const v = residual[at] as number;
    if (!(Math.abs(v) >= floor)) continue;
    const y = Math.floor(at / width);
    if (y !== row) {
      // localMaxima's span of row y (none outside y0..y1).
      row = y;
      const dy = y - cy;
      const half = Math.sqrt(Math.max(0, r * r - dy * dy));
      from = y * width + Math.max(HALF + 1, Math.ceil(cx - half));
      to = y < y0 || y > y1 ? -1 : y * width + Math.min(width - HALF - 2, Math.floor(cx + half));
    }
    if (at < from || at > to) continue;
    if (noNeighbourAbove(residual, width, at, Math.abs(v))) found.push(at);
  }
  return found;
}

/** The footprints' candidate floor: FOOTPRINT_FLUX.candidateSigmas pair-difference sigmas. */
export function candidateFloor(sigma: number): number {
  return FOOTPRINT_FLUX.candidateSigmas * PAIR_DIFFERENCE_GAIN * sigma;
}

/** Quantile q of values (sorted in place). */
function quantileOf(values: Float64Array, q: number): number {
  values.sort();
  return values[Math.min(values.length - 1, Math.floor(q * values.length))] as number;
}

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
