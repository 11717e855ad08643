// The die-to-die residual of the rim ring, where some neighbour dies fall off the wafer: the symmetric pairs left on it first, extrapolated references only where fewer than two are, and their noise gain.
import { MISREGISTRATION_SHARE } from "./die-to-die-allowance.ts";

/**
 * Precision (1 / variance, in units of one die's own variance: sensor noise and die-specific
 * detail alike) of each kind of reference: a pair average (n1 + n2) / 2 has variance 1/2, a
 * two-die extrapolation 2 near - far has 4 + 1 = 5, a single die 1. See referenceNoiseGain.
 */
const PRECISION_PAIR = 2;
const PRECISION_EXTRAPOLATED = 1 / 5;
const PRECISION_SINGLE = 1;
/**
 * How much wider a two-die extrapolation's difference v - (2 near - far) spreads than a pair's
 * v - (p + m) / 2 under the same per-pixel noise: sqrt((1 + 5) / (1 + 1/2)) = 2. A test on the
 * difference at a level set in pair sigmas takes this factor to keep its false rate
 * (die-to-die-rim-interpolation.ts, the anchor's agreement).
 */
export const EXTRAPOLATION_DIFFERENCE_GAIN = Math.sqrt(
  (1 + 1 / PRECISION_EXTRAPOLATED) / (1 + 1 / PRECISION_PAIR),
);
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

export function bilinearAt(
  data: Float32Array,
  width: number,
  j: number,
  fx: number,
  fy: number,
): number {
  const p00 = data[j] as number;
  const top = p00 + ((data[j + 1] as number) - p00) * fx;
  const p01 = data[j + width] as number;
  const bottom = p01 + ((data[j + width + 1] as number) - p01) * fx;
  return top + (bottom - top) * fy;
}

/**
 * One pixel near the rim, where some neighbour dies fall off the wafer: a pair average where
 * both sides exist, else a two-die linear extrapolation from the side that does, else that
 * single die. A pair forgives its direction's share (pairMisregistrationShare), a two-die
 * extrapolation its own (extrapolationMisregistrationShare) where two or more pairs decide
 * (PAIRS_DECIDE_BIT) and else the fixed share (MISREGISTRATION_SHARE), as a single die
 * always. Closure-free for speed (this ring can hold a third of the disk).
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
  /**
   * The directions compared, bit d for direction d, and VETO_BIT (rimRingDirections); all four
   * by default. With VETO_BIT the smallest of all is reported (every comparison must exceed)
   * and the gain is that of the pairs alone.
   */
  include = 15,
  /**
   * Per direction, the share of the range a pair forgives (pairMisregistrationShare, as
   * inside); without it, the fixed share (MISREGISTRATION_SHARE).
   */
  pairShares: Float64Array | null = null,
  /**
   * Per direction, the share of the summed range a two-die extrapolation forgives
   * (extrapolationMisregistrationShare); without it, the fixed share.
   */
  extrapolationShares: Float64Array | null = null,
  /**
   * Per direction, what a pair forgives besides its share of the range: its references'
   * interpolation error (die-to-die-rim-interpolation.ts, granted after the residual on the few
   * ring pixels that stand out); without it, nothing.
   */
  pairTerms: Float64Array | null = null,
): void {
  const v = data[base] as number;
  // Summed precision of the references compared, and the largest (referenceNoiseGain).
  let precisions = 0;
  let pairPrecisions = 0;
  let largestPrecision = 0;
  let best = Number.POSITIVE_INFINITY;
  let bestSigned = 0;
  let second = Number.POSITIVE_INFINITY;
  let secondSigned = 0;
  // With VETO_BIT: the pairs' smallest, and the one-sided comparison's difference and allowance.
  let pairBest = Number.POSITIVE_INFINITY;
  let pairBestSigned = 0;
  let oneSidedDiff = 0;
  let oneSidedAllowance = 0;
  let n = 0;
  for (let k = 0; k < 8; k += 2) {
    if (((include >> (k >> 1)) & 1) === 0) continue;
    const plusOk = x >= (lower[k] as number) && x <= (upper[k] as number);
    const minusOk = x >= (lower[k + 1] as number) && x <= (upper[k + 1] as number);
    let ref: number;
    let spread: number;
    let precision: number;
    let share: number = MISREGISTRATION_SHARE;
    let term = 0;
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
      pairPrecisions += PRECISION_PAIR;
      share = pairShares ? (pairShares[k >> 1] as number) : MISREGISTRATION_SHARE;
      if (pairTerms) term = pairTerms[k >> 1] as number;
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
        if (extrapolationShares && (include & PAIRS_DECIDE_BIT) !== 0)
          share = extrapolationShares[k >> 1] as number;
      } else {
        ref = near;
        spread = range[base + (rangeDeltas[slot] as number)] as number;
        precision = PRECISION_SINGLE;
      }
    } else {
      continue;
    }
    // Noise alone makes ~2 sigma of range; that part is not forgiven.
    let allowance = share * spread + term - noiseSigma;
    if (allowance < 0) allowance = 0;
    const d = v - ref;
    const e = d > allowance ? d - allowance : d < -allowance ? d + allowance : 0;
    n++;
    precisions += precision;
    if (precision > largestPrecision) largestPrecision = precision;
    const mag = e < 0 ? -e : e;
    if (precision === PRECISION_PAIR) {
      if (mag < pairBest) {
        pairBest = mag;
        pairBestSigned = e;
      }
    } else {
      oneSidedDiff = d;
      oneSidedAllowance = allowance;
    }
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
  const veto = (include & VETO_BIT) !== 0;
  // The veto abstains where its one-sided comparison is consistent both with no defect and
  // with what the pairs read: its allowance covers its difference from 0 and from the pairs'
  // value (vetoAbstains). Then the pairs' smallest is reported.
  if (veto && vetoAbstains(oneSidedDiff, oneSidedAllowance, pairBestSigned))
    bestSigned = pairBestSigned;
  // Written here, not returned: a returned double would be boxed on the heap for every pixel.
  out[base] = n === 0 ? 0 : n >= 3 && !veto ? secondSigned : bestSigned;
  if (edgeGain) {
    // The 2nd smallest of 3 or 4 comparisons exceeds t when all but one do: the cheapest set
    // leaves out the most precise reference. The smallest of 1 or 2 needs all of them. With a
    // veto, the pairs' gain (the veto only lowers the tail further).
    const dominant = veto ? pairPrecisions : n >= 3 ? precisions - largestPrecision : precisions;
    edgeGain[base] = Math.round(EDGE_GAIN_UNIT * referenceNoiseGain(dominant));
  }
}

/**
 * Whether the two-pair veto's one-sided comparison (difference `diff` from its reference, that
 * reference's allowance `allowance`) carries no evidence: the values it allows,
 * diff +- allowance, hold both 0 (no defect) and the pairs' reading `pairValue` (the smaller
 * pair's, after its own allowance). Round 32 (docs/detector-recall.md, SYN-20261517-9/wafer-029):
 * an extrapolation across a street edge forgave 31.5 codes and its 0 vetoed two pairs that
 * read 8.5-9.8. The veto exists for pairs whose outer members read the chuck (an edge chip one
 * die away): there the pairs read tens of percent of the level and a one-sided reference on
 * the real die reads about 0 under a small allowance, so it still vetoes. The same test as the
 * kernel's (die-to-die.wat `edge`), operation for operation.
 */
export function vetoAbstains(diff: number, allowance: number, pairValue: number): boolean {
  return Math.abs(diff) <= allowance && Math.abs(diff - pairValue) <= allowance;
}

/** rimRingDirections' flag: report the smallest of the kept comparisons (all must exceed). */
export const VETO_BIT = 16;
/**
 * rimRingDirections' flag: two or more pairs decide, so a two-die extrapolation forgives its own
 * share (extrapolationMisregistrationShare). With one pair or none, three extrapolations or
 * more outvote the pair, and 2 near - far carries a die's own level twice: the spec lets a
 * reticle field's dies differ by +-0.75% and its boundary streets be 3% darker, which such an
 * extrapolation turns into 3-6% (a must-find particle's contrast). The fixed share (0.75 of
 * the three cells' ranges) stays the guard there: with the smaller share a false particle at a
 * street crossing 40 px inside the rim of SYN-7063-9/wafer-004 (reticle; one pair, three
 * extrapolations all reading +4.5% of the level) crossed its seed (docs/detector-recall.md
 * round 34).
 */
export const PAIRS_DECIDE_BIT = 32;

/**
 * One rim-ring pixel: which of edgePixel's comparisons it keeps (bit d for direction d).
 * Round 20 (docs/detector-recall.md) found most ring misses where the 2nd smallest of four took
 * a two-die extrapolation (2 near - far: five times a pixel's variance and three cells' ranges
 * forgiven), though symmetric pairs of real dies were left on the wafer. A pair average cancels
 * the rim's illumination gradient (vignetting, roll-off) to first order as the interior's does,
 * at half a pixel's variance. So where pairs are left, the most precise references decide, and
 * the value must still exceed along independent comparisons (a defect in one reference die, an
 * echo, cannot make a detection by itself):
 * - three pairs: they and one one-sided comparison, the 2nd smallest (three of four must
 *   exceed, as inside): two pairs whose members share one extended defect (a stain over two
 *   neighbouring reference dies, SYN-7063-1/wafer-002) are outvoted;
 * - two pairs: both and one one-sided comparison, the smallest (all three must exceed, VETO_BIT):
 *   the one-sided reference lies inwards, so two pairs whose outer members both fall into edge
 *   chips (SYN-7014-1/wafer-007: two chips one die away read the chuck) are vetoed; it adds
 *   little noise, so the gain is the two pairs';
 * - one pair or none: all of them (edgePixel's rule). One pair and one one-sided comparison
 *   (the smaller of two) was tried: where the pair has a member off the real disk (in an edge
 *   chip, SYN-7014-1/wafer-005; past an out-of-round rim, SYN-7060-3/wafer-012) the pair
 *   exceeds by itself and the one extrapolation decided alone, at the pair's gain.
 * The one-sided comparison is the first direction (a, b, a + b, a - b) with a two-die
 * extrapolation (unbiased by a linear gradient), else the first with a single die; a bias in it
 * can only lower the value, never add a false alarm. The choice depends only on which
 * references lie on the wafer, so it is constant along a row segment: the kernel's `row` makes
 * the same choice per segment (die-to-die.wat).
 */
export function rimRingDirections(
  x: number,
  lower: Int32Array,
  upper: Int32Array,
  lower2: Int32Array,
  upper2: Int32Array,
): number {
  let pairs = 0;
  let pairMask = 0;
  let extrapolated = -1;
  let single = -1;
  for (let d = 0; d < 4; d++) {
    const k = 2 * d;
    const plusOk = x >= (lower[k] as number) && x <= (upper[k] as number);
    const minusOk = x >= (lower[k + 1] as number) && x <= (upper[k + 1] as number);
    if (plusOk && minusOk) {
      pairs++;
      pairMask |= 1 << d;
    } else if (plusOk || minusOk) {
      const slot = plusOk ? k : k + 1;
      const far = x >= (lower2[slot] as number) && x <= (upper2[slot] as number);
      if (far && extrapolated < 0) extrapolated = d;
      if (!far && single < 0) single = d;
    }
  }
  if (pairs <= 1) return 15;
  const other = extrapolated >= 0 ? extrapolated : single;
  if (other < 0) return pairMask | PAIRS_DECIDE_BIT;
  return pairs === 2
    ? pairMask | (1 << other) | VETO_BIT | PAIRS_DECIDE_BIT
    : pairMask | (1 << other) | PAIRS_DECIDE_BIT;
}
