// The die-to-die residual of the rim ring, where some neighbour dies fall off the wafer: symmetric pairs that stay on it first, extrapolated references only where none does, and their noise gain.
import { MISREGISTRATION_SHARE } from "./die-to-die-allowance.ts";

/**
 * Precision (1 / variance, in units of one die's own variance: sensor noise and die-specific
 * detail alike) of each kind of reference: a pair average (n1 + n2) / 2 has variance 1/2, a
 * two-die extrapolation 2 near - far has 4 + 1 = 5, a single die 1. See referenceNoiseGain.
 */
const PRECISION_PAIR = 2;
const PRECISION_EXTRAPOLATED = 1 / 5;
const PRECISION_SINGLE = 1;
/** The interior's summed precision: three pair references (referenceNoiseGain). */
const INTERIOR_PRECISION = 3 * PRECISION_PAIR;
/** edgeGain's unit (a gain of 1); a Uint8Array then holds gains up to 7.9. */
export const EDGE_GAIN_UNIT = 32;
const MAX_EDGE_GAIN = 255 / EDGE_GAIN_UNIT;

/**
 * How much further out than an interior pixel's the residual's tail lies at a pixel compared
 * with references of summed precision `precision` over its dominant set (below). The reported
 * value v - ref_k exceeds t along every comparison of that set; the cheapest way for Gaussian
 * terms is the pixel's own deviation v plus each reference's c_k = t - v, of cost
 * v^2 / 2 + (t - v)^2 W / 2 (W = sum of the references' precisions), least at v = W t / (1 + W):
 * cost t^2 W / (2 (1 + W)), a tail of effective variance 1 + 1/W. The interior's residual is
 * the 2nd smallest of four pair comparisons, exceeded when three are: W = 6, variance 7/6.
 * Their ratio, as a standard deviation, is the gain (1 inside, 1.51 with three or four
 * extrapolated references, where most of the ring's false alarms sat).
 */
export function referenceNoiseGain(precision: number): number {
  if (!(precision > 0)) return MAX_EDGE_GAIN;
  const variance = 1 + 1 / precision;
  const interior = 1 + 1 / INTERIOR_PRECISION;
  return Math.min(MAX_EDGE_GAIN, Math.sqrt(variance / interior));
}

/**
 * The rim ring's edge gain (units of 1 / EDGE_GAIN_UNIT) of each set of references, indexed as
 * the kernel's `row` indexes it: two bits per direction d at bit 2d (0 none, 1 pair, 2 two-die
 * extrapolation, 3 single die). The precisions are summed in direction order, as edgePixel
 * sums them, so each entry is edgePixel's value for that set.
 */
function edgeGainTable(): Uint8Array {
  const precisionOf = [0, PRECISION_PAIR, PRECISION_EXTRAPOLATED, PRECISION_SINGLE];
  const table = new Uint8Array(256);
  for (let code = 0; code < 256; code++) {
    let precisions = 0;
    let largestPrecision = 0;
    let count = 0;
    for (let d = 0; d < 4; d++) {
      const kind = (code >> (2 * d)) & 3;
      if (kind === 0) continue;
      const precision = precisionOf[kind] as number;
      count++;
      precisions += precision;
      if (precision > largestPrecision) largestPrecision = precision;
    }
    const dominant = count >= 3 ? precisions - largestPrecision : precisions;
    table[code] = Math.round(EDGE_GAIN_UNIT * referenceNoiseGain(dominant));
  }
  return table;
}
export const EDGE_GAIN_TABLE = edgeGainTable();

function bilinearAt(data: Float32Array, width: number, j: number, fx: number, fy: number): number {
  const p00 = data[j] as number;
  const top = p00 + ((data[j + 1] as number) - p00) * fx;
  const p01 = data[j + width] as number;
  const bottom = p01 + ((data[j + width + 1] as number) - p01) * fx;
  return top + (bottom - top) * fy;
}

/**
 * One pixel near the rim, where some neighbour dies fall off the wafer: a pair average where
 * both sides exist, else a two-die linear extrapolation from the side that does, else that
 * single die. Every comparison here forgives the fixed share (MISREGISTRATION_SHARE).
 * Closure-free for speed (this ring can hold a third of the disk).
 */
export function edgePixel(
  data: Float32Array,
  width: number,
  out: Float32Array,
  base: number,
  x: number,
  lower: Int32Array,
  upper: Int32Array,
  lower2: Int32Array,
  upper2: Int32Array,
  offsets: Int32Array,
  fxs: Float64Array,
  fys: Float64Array,
  offsets2: Int32Array,
  fxs2: Float64Array,
  fys2: Float64Array,
  noiseSigma: number,
  range: Float32Array,
  rangeDeltas: Int32Array,
  rangeDeltas2: Int32Array,
  edgeGain: Uint8Array | undefined,
): void {
  const v = data[base] as number;
  // Summed precision of the references compared, and the largest (referenceNoiseGain).
  let precisions = 0;
  let largestPrecision = 0;
  let best = Number.POSITIVE_INFINITY;
  let bestSigned = 0;
  let second = Number.POSITIVE_INFINITY;
  let secondSigned = 0;
  let n = 0;
  for (let k = 0; k < 8; k += 2) {
    const plusOk = x >= (lower[k] as number) && x <= (upper[k] as number);
    const minusOk = x >= (lower[k + 1] as number) && x <= (upper[k + 1] as number);
    let ref: number;
    let spread: number;
    let precision: number;
    if (plusOk && minusOk) {
      const j1 = base + (offsets[k] as number);
      const j2 = base + (offsets[k + 1] as number);
      ref =
        0.5 *
        (bilinearAt(data, width, j1, fxs[k] as number, fys[k] as number) +
          bilinearAt(data, width, j2, fxs[k + 1] as number, fys[k + 1] as number));
      spread = Math.max(
        range[base + (rangeDeltas[k] as number)] as number,
        range[base + (rangeDeltas[k + 1] as number)] as number,
      );
      precision = PRECISION_PAIR;
    } else if (plusOk || minusOk) {
      const slot = plusOk ? k : k + 1;
      const jNear = base + (offsets[slot] as number);
      const near = bilinearAt(data, width, jNear, fxs[slot] as number, fys[slot] as number);
      if (x >= (lower2[slot] as number) && x <= (upper2[slot] as number)) {
        const jFar = base + (offsets2[slot] as number);
        const far = bilinearAt(data, width, jFar, fxs2[slot] as number, fys2[slot] as number);
        ref = 2 * near - far;
        spread =
          2 * (range[base + (rangeDeltas[slot] as number)] as number) +
          (range[base + (rangeDeltas2[slot] as number)] as number);
        precision = PRECISION_EXTRAPOLATED;
      } else {
        ref = near;
        spread = range[base + (rangeDeltas[slot] as number)] as number;
        precision = PRECISION_SINGLE;
      }
    } else {
      continue;
    }
    // Noise alone makes ~2 sigma of range; that part is not forgiven.
    let allowance = MISREGISTRATION_SHARE * spread - noiseSigma;
    if (allowance < 0) allowance = 0;
    const d = v - ref;
    const e = d > allowance ? d - allowance : d < -allowance ? d + allowance : 0;
    n++;
    precisions += precision;
    if (precision > largestPrecision) largestPrecision = precision;
    const mag = e < 0 ? -e : e;
    if (mag < best) {
      second = best;
      secondSigned = bestSigned;
      best = mag;
      bestSigned = e;
    } else if (mag < second) {
      second = mag;
      secondSigned = e;
    }
  }
  // Written here, not returned: a returned double would be boxed on the heap for every pixel.
  out[base] = n === 0 ? 0 : n >= 3 ? secondSigned : bestSigned;
  if (edgeGain) {
    // The 2nd smallest of 3 or 4 comparisons exceeds t when all but one do: the cheapest set
    // leaves out the most precise reference. The smallest of 1 or 2 needs all of them.
    const dominant = n >= 3 ? precisions - largestPrecision : precisions;
    edgeGain[base] = Math.round(EDGE_GAIN_UNIT * referenceNoiseGain(dominant));
  }
}

/**
 * One rim-ring pixel (edgePixel's place in the row), compared first with the references that
 * are real dies on the wafer on both sides: for each direction whose +d and -d samples both lie
 * on the wafer, the pair average, with the interior's per-direction allowance
 * (pairMisregistrationShare). A symmetric pair cancels the rim's illumination gradient
 * (vignetting, roll-off) to first order as the interior's does, at half a pixel's variance,
 * where edgePixel's two-die extrapolation (2 near - far) has five times one pixel's and forgives
 * three cells' ranges (2 near + far), so a particle read through it loses most of its residual
 * (docs/detector-recall.md round 20: 1.7-8.4 noise sigmas against 10-20 inside).
 * The rule keeps the interior's protection against a defect in one reference die (an echo):
 * the reported value must exceed along two independent comparisons.
 * - three pairs: the 2nd smallest of them (two of three must exceed);
 * - two pairs: the smaller of the two;
 * - one pair: the smaller of it and the most precise other comparison (a single neighbour
 *   die, else a two-die extrapolation, ties to the smaller allowance): where that other one is
 *   biased by the gradient it can only lower the value, never add a false alarm the pair
 *   alone would not;
 * - no pair: edgePixel's rule (bit for bit the same value).
 * The edge gain is referenceNoiseGain of the comparisons that must exceed together.
 */
export function rimRingPixel(
  data: Float32Array,
  width: number,
  out: Float32Array,
  base: number,
  x: number,
  lower: Int32Array,
  upper: Int32Array,
  lower2: Int32Array,
  upper2: Int32Array,
  offsets: Int32Array,
  fxs: Float64Array,
  fys: Float64Array,
  offsets2: Int32Array,
  fxs2: Float64Array,
  fys2: Float64Array,
  noiseSigma: number,
  range: Float32Array,
  rangeDeltas: Int32Array,
  rangeDeltas2: Int32Array,
  /** Per direction, the interior's share of the range forgiven (pairMisregistrationShare). */
  shares: Float64Array,
  edgeGain: Uint8Array | undefined,
): void {
  const v = data[base] as number;
  // The pairs' signed deviations, in direction order.
  let pairs = 0;
  let pair0 = 0;
  let pair1 = 0;
  let pair2 = 0;
  // The most precise one-sided comparison: its precision, allowance and deviation.
  let otherPrecision = 0;
  let otherAllowance = Number.POSITIVE_INFINITY;
  let other = 0;
  for (let k = 0; k < 8; k += 2) {
    const plusOk = x >= (lower[k] as number) && x <= (upper[k] as number);
    const minusOk = x >= (lower[k + 1] as number) && x <= (upper[k + 1] as number);
    if (plusOk && minusOk) {
      const ref =
        0.5 *
        (bilinearAt(
          data,
          width,
          base + (offsets[k] as number),
          fxs[k] as number,
          fys[k] as number,
        ) +
          bilinearAt(
            data,
            width,
            base + (offsets[k + 1] as number),
            fxs[k + 1] as number,
            fys[k + 1] as number,
          ));
      const spread = Math.max(
        range[base + (rangeDeltas[k] as number)] as number,
        range[base + (rangeDeltas[k + 1] as number)] as number,
      );
      const allowance = Math.max(0, (shares[k >> 1] as number) * spread - noiseSigma);
      const d = v - ref;
      const e = d > allowance ? d - allowance : d < -allowance ? d + allowance : 0;
      if (pairs === 0) pair0 = e;
      else if (pairs === 1) pair1 = e;
      else pair2 = e;
      pairs++;
    } else if (plusOk || minusOk) {
      const slot = plusOk ? k : k + 1;
      const near = bilinearAt(
        data,
        width,
        base + (offsets[slot] as number),
        fxs[slot] as number,
        fys[slot] as number,
      );
      let ref: number;
      let spread: number;
      let precision: number;
      if (x >= (lower2[slot] as number) && x <= (upper2[slot] as number)) {
        const far = bilinearAt(
          data,
          width,
          base + (offsets2[slot] as number),
          fxs2[slot] as number,
          fys2[slot] as number,
        );
        ref = 2 * near - far;
        spread =
          2 * (range[base + (rangeDeltas[slot] as number)] as number) +
          (range[base + (rangeDeltas2[slot] as number)] as number);
        precision = PRECISION_EXTRAPOLATED;
      } else {
        ref = near;
        spread = range[base + (rangeDeltas[slot] as number)] as number;
        precision = PRECISION_SINGLE;
      }
      const allowance = Math.max(0, MISREGISTRATION_SHARE * spread - noiseSigma);
      if (
        precision > otherPrecision ||
        (precision === otherPrecision && allowance < otherAllowance)
      ) {
        const d = v - ref;
        otherPrecision = precision;
        otherAllowance = allowance;
        other = d > allowance ? d - allowance : d < -allowance ? d + allowance : 0;
      }
    }
  }
  if (pairs === 0) {
    edgePixel(
      data,
      width,
      out,
      base,
      x,
      lower,
      upper,
      lower2,
      upper2,
      offsets,
      fxs,
      fys,
      offsets2,
      fxs2,
      fys2,
      noiseSigma,
      range,
      rangeDeltas,
      rangeDeltas2,
      edgeGain,
    );
    return;
  }
  let value: number;
  let precision: number;
  if (pairs >= 3) {
    // The 2nd smallest magnitude of three (the median).
    const m0 = Math.abs(pair0);
    const m1 = Math.abs(pair1);
    const m2 = Math.abs(pair2);
    value =
      m0 <= m1
        ? m1 <= m2
          ? pair1
          : m0 <= m2
            ? pair2
            : pair0
        : m0 <= m2
          ? pair0
          : m1 <= m2
            ? pair2
            : pair1;
    precision = 2 * PRECISION_PAIR;
  } else if (pairs === 2) {
    value = Math.abs(pair0) <= Math.abs(pair1) ? pair0 : pair1;
    precision = 2 * PRECISION_PAIR;
  } else if (otherPrecision > 0) {
    value = Math.abs(pair0) <= Math.abs(other) ? pair0 : other;
    precision = PRECISION_PAIR + otherPrecision;
  } else {
    value = pair0;
    precision = PRECISION_PAIR;
  }
  out[base] = value;
  if (edgeGain) edgeGain[base] = Math.round(EDGE_GAIN_UNIT * referenceNoiseGain(precision));
}
