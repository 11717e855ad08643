// One footprint read along one pair direction: the pair reference over a 7x7 window, the raw pair differences, the reference's second differences, and the most a sub-pixel shift can put there.

import { pairMisregistrationShare } from "./die-to-die-allowance.ts";
import type { Vector } from "./lattice.ts";
import { DETECTION } from "./thresholds.ts";

/** Reference window: the 3x3 footprint, its 5x5 ring, and one more pixel for second differences. */
const SIDE = 7;
export const HALF = 3;
export const RING = 16;

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
export interface Direction {
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
export const BOX = Int32Array.from(
  [-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => innerIndex(dx, dy))),
);
const RING_INNER = Int32Array.from(RING_OFFSETS, ([dx, dy]) => innerIndex(dx, dy));

/**
 * Reads the footprint of a pixel along one direction: the pair reference over the 7x7 window,
 * the raw pair differences and the reference's second differences over the 5x5; then the box
 * (3x3) sums, the ring's (5x5 border) sums, its second largest and second smallest difference,
 * and each ring pixel's |Dxx R|, |Dyy R|, |Dxy R| (for the shift model's bound). Results are left
 * in the reader's fields (no allocation per read). The caller checks that every reference lies
 * on the wafer.
 */
export class FootprintReader {
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
export function modelBound(
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

export function directionsOf(a: Vector, b: Vector, width: number): Direction[] {
  const dirs: Vector[] = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  return dirs.map((d) => ({
    plus: shiftOf(d.x, d.y, width),
    minus: shiftOf(-d.x, -d.y, width),
    share: pairMisregistrationShare(d),
    ...shiftBounds(d),
  }));
}
