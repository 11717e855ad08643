// The rim ring's pairs given the interior's interpolation-error term (round 41): a ring pixel over the gate where two or more pairs decide is compared again with each pair's bilinear sampling error forgiven, where the anchor across the axis agrees with it.
import type { StandingOut } from "./die-to-die.ts";
import { referenceIntervals, referenceShifts } from "./die-to-die.ts";
import {
  anchoredGatedPixels,
  cellCurvatureX,
  cellCurvatureY,
  cellRangeAt,
} from "./die-to-die-allowance.ts";
import {
  bilinearAt,
  EXTRAPOLATION_DIFFERENCE_GAIN,
  edgePixel,
  PAIRS_DECIDE_BIT,
  rimRingDirections,
} from "./die-to-die-rim-ring.ts";
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { INTERPOLATION_ERROR } from "./thresholds.ts";

/**
 * boundInterpolationError's rule (die-to-die-allowance.ts, round 31) for the rim ring's pairs
 * (edgeMask 1) where two or more pairs decide (PAIRS_DECIDE_BIT). A pair in the ring samples its
 * two reference dies at fractions f and 1 - f exactly as inside, so it misses a narrow trough or
 * ridge (a dark street between two map rows) by up to f(1 - f) / 2 x the curvature across that
 * axis, which its 2x2 range cannot bound (at a street's bottom the range is near 0). Round 40
 * (docs/detector-recall.md, SYN-20261523-6/wafer-012): three false particles mid street in the
 * ring, pairs b and a +- b reading -3.1 to -4.2 codes against an anchor a at -0.06 to +0.32.
 *
 * Across each axis the anchor is the direction sampled at the pixel's own phase across it
 * (anchorOf, the least coefficient), whatever its kind at this pixel: a pair, or a two-die
 * extrapolation (2 near - far: near and far lie at whole multiples of the same shift, so at
 * the pixel's phase when that shift's fraction is 0). A single die (no far sample) carries the
 * lattice error uncancelled and is no anchor. The term acts across an axis only where the
 * pixel agrees with the anchor's raw difference (no allowance) within the interior's level
 * (the gate, with the noise of a two-die extrapolation's difference, twice a pair's, taken into
 * it; never more than half the residual): a defect in the die under test disagrees with the anchor too, so none of its contrast is
 * forgiven, and where the one-sided comparison reads with the pairs (a defect in the ring that
 * ring34's veto kept) no term is granted. The curvature is read in the cells of the pairs other
 * than the anchor (reference dies on the wafer by the comparison's own on-wafer test, never the
 * die under test), only where its reads stay inside the map. The pixel is then compared as the
 * residual compared it (edgePixel: the same directions, veto and shares) with each pair's
 * allowance raised by its term, and the value kept where it is smaller: a larger allowance can
 * only lower a comparison, and under the gate no seed or footprint depends on the value, so
 * the pass reads only the ring's pixels over the gate. Returns how many pixels it lowered.
 */
export function boundRimInterpolationError(
  map: FloatMap,
  a: Vector,
  b: Vector,
  region: DiskRegion,
  /** The wafer's radius in map px, as dieToDieResidual took it (its on-wafer test). */
  waferRadius: number,
  sigma: number,
  gate: number,
  edgeMask: Uint8Array,
  residual: Float32Array,
  /** dieToDieResidual's list, when no pass since has raised a pixel's |residual|. */
  standing?: StandingOut,
): number {
  const { data, width, height } = map;
  const anchored = anchoredGatedPixels(map, a, b, region, gate, edgeMask, 1, residual, standing);
  if (!anchored || anchored.gated.length === 0) return 0;
  const { pairs, anchorX, anchorY, gated } = anchored;
  const shifts = referenceShifts(a, b, width);
  const { offsets, fxs, fys, offsets2, fxs2, fys2 } = shifts;
  const intervals = referenceIntervals(shifts, region.cx, region.cy, waferRadius, width, height);
  const { lower, upper, lower2, upper2 } = intervals;
  // edgePixel reads each reference's cell range at range[pixel + delta]: here a table of the
  // pixel's sixteen cells (one and two dies away), each as CellRangeRing stores it (float32).
  const ranges = new Float32Array(16);
  const rangeDeltas = new Int32Array(8);
  const rangeDeltas2 = new Int32Array(8);
  const terms = new Float64Array(4);
  let row = -1;
  let lowered = 0;
  for (const at of gated) {
    const y = Math.floor(at / width);
    const x = at - y * width;
    if (y !== row) {
      intervals.forRow(y);
      row = y;
    }
    const include = rimRingDirections(x, lower, upper, lower2, upper2);
    if ((include & PAIRS_DECIDE_BIT) === 0) continue;
    const old = residual[at] as number;
    const agreement = INTERPOLATION_ERROR.agreeShare * Math.abs(old);
    const agreeX =
      anchorX >= 0 && anchorAgrees(data, width, at, x, anchorX, gate, agreement, shifts, intervals);
    const agreeY =
      anchorY >= 0 &&
      (anchorY === anchorX
        ? agreeX
        : anchorAgrees(data, width, at, x, anchorY, gate, agreement, shifts, intervals));
    if (!agreeX && !agreeY) continue;
    let curvatureX = 0;
    let curvatureY = 0;
    for (let d = 0; d < 4; d++) {
      const plus = 2 * d;
      if (!isPair(x, plus, lower, upper)) continue;
      for (let slot = plus; slot <= plus + 1; slot++) {
        const j = at + (offsets[slot] as number);
        if (!curvatureInside(j, width, height)) continue;
        if (agreeX && d !== anchorX)
          curvatureX = Math.max(curvatureX, cellCurvatureX(data, width, j));
        if (agreeY && d !== anchorY)
          curvatureY = Math.max(curvatureY, cellCurvatureY(data, width, j));
      }
    }
    for (let d = 0; d < 4; d++) {
      const pair = pairs[d] as (typeof pairs)[number];
      terms[d] = pair.cx * curvatureX + pair.cy * curvatureY;
    }
    for (let slot = 0; slot < 8; slot++) {
      rangeDeltas[slot] = slot - at;
      rangeDeltas2[slot] = 8 + slot - at;
      if (x >= (lower[slot] as number) && x <= (upper[slot] as number))
        ranges[slot] = cellRangeAt(data, width, at + (offsets[slot] as number));
      if (x >= (lower2[slot] as number) && x <= (upper2[slot] as number))
        ranges[8 + slot] = cellRangeAt(data, width, at + (offsets2[slot] as number));
    }
    edgePixel(
      data,
      width,
      residual,
      at,
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
      sigma,
      ranges,
      rangeDeltas,
      rangeDeltas2,
      undefined,
      include,
      shifts.shares,
      shifts.extrapolationShares,
      terms,
    );
    if (Math.abs(residual[at] as number) < Math.abs(old)) lowered++;
    else residual[at] = old;
  }
  return lowered;
}

/** Whether both references of direction slot `plus` (and plus + 1) lie on the wafer at x. */
function isPair(x: number, plus: number, lower: Int32Array, upper: Int32Array): boolean {
  return (
    x >= (lower[plus] as number) &&
    x <= (upper[plus] as number) &&
    x >= (lower[plus + 1] as number) &&
    x <= (upper[plus + 1] as number)
  );
}

/** Whether the curvature's reads around the cell at j (one pixel beyond it each way) lie in the map. */
function curvatureInside(j: number, width: number, height: number): boolean {
  const y = Math.floor(j / width);
  const x = j - y * width;
  return y >= 1 && y <= height - 3 && x >= 1 && x <= width - 3;
}

const ANCHOR_NONE = 0;
const ANCHOR_PAIR = 1;
const ANCHOR_EXTRAPOLATED = 2;

/**
 * What direction d compares at column x, by the residual's on-wafer test: a pair where both
 * sides lie on the wafer, else a two-die extrapolation where the side that does has its second
 * die too, else nothing usable as an anchor (a single die, or no reference).
 */
function anchorKind(
  x: number,
  d: number,
  lower: Int32Array,
  upper: Int32Array,
  lower2: Int32Array,
  upper2: Int32Array,
): number {
  const k = 2 * d;
  const plusOk = x >= (lower[k] as number) && x <= (upper[k] as number);
  const minusOk = x >= (lower[k + 1] as number) && x <= (upper[k + 1] as number);
  if (plusOk && minusOk) return ANCHOR_PAIR;
  if (!plusOk && !minusOk) return ANCHOR_NONE;
  const slot = plusOk ? k : k + 1;
  return x >= (lower2[slot] as number) && x <= (upper2[slot] as number)
    ? ANCHOR_EXTRAPOLATED
    : ANCHOR_NONE;
}

/**
 * Whether the pixel at index `at` (column x) agrees with the anchor along direction d: its raw
 * difference from d's reference (no allowance) is under the interior's level, the gate (in pair
 * sigmas) but never over `agreement` (half the pixel's residual: the midpoint between a
 * sampling leftover, where the anchor reads about 0, and a defect in the die under test, where
 * it reads the residual). A two-die extrapolation's difference spreads twice a pair's
 * (EXTRAPOLATION_DIFFERENCE_GAIN), so its gate part is twice as wide. No pair and no two-die
 * extrapolation along d: no agreement.
 */
function anchorAgrees(
  data: Float32Array,
  width: number,
  at: number,
  x: number,
  d: number,
  gate: number,
  agreement: number,
  shifts: ReturnType<typeof referenceShifts>,
  intervals: ReturnType<typeof referenceIntervals>,
): boolean {
  const { lower, upper, lower2, upper2 } = intervals;
  const kind = anchorKind(x, d, lower, upper, lower2, upper2);
  if (kind === ANCHOR_NONE) return false;
  const level = Math.min(
    kind === ANCHOR_PAIR ? gate : EXTRAPOLATION_DIFFERENCE_GAIN * gate,
    agreement,
  );
  const reference = anchorReference(data, width, at, d, kind, shifts, x, lower, upper);
  return Math.abs((data[at] as number) - reference) < level;
}

/** Direction d's reference of that kind for the pixel at index `at`, as edgePixel builds it. */
function anchorReference(
  data: Float32Array,
  width: number,
  at: number,
  d: number,
  kind: number,
  shifts: ReturnType<typeof referenceShifts>,
  x: number,
  lower: Int32Array,
  upper: Int32Array,
): number {
  const { offsets, fxs, fys, offsets2, fxs2, fys2 } = shifts;
  const k = 2 * d;
  if (kind === ANCHOR_PAIR)
    return (
      0.5 *
      (bilinearAt(data, width, at + (offsets[k] as number), fxs[k] as number, fys[k] as number) +
        bilinearAt(
          data,
          width,
          at + (offsets[k + 1] as number),
          fxs[k + 1] as number,
          fys[k + 1] as number,
        ))
    );
  const slot = x >= (lower[k] as number) && x <= (upper[k] as number) ? k : k + 1;
  const near = bilinearAt(
    data,
    width,
    at + (offsets[slot] as number),
    fxs[slot] as number,
    fys[slot] as number,
  );
  const far = bilinearAt(
    data,
    width,
    at + (offsets2[slot] as number),
    fxs2[slot] as number,
    fys2[slot] as number,
  );
  return 2 * near - far;
}
