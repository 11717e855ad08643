// The die-to-die misregistration allowance: the share of a reference's 2x2 cell range forgiven per direction, and those cell ranges row by row.

import type { StandingOut } from "./die-to-die.ts";
import type { KernelFrame } from "./die-to-die-frame.ts";
import type { Vector } from "./lattice.ts";
import type { FloatMap } from "./raster.ts";
import { DETECTION, INTERPOLATION_ERROR } from "./thresholds.ts";

/**
 * Share of the reference's local 2x2 range forgiven in the rim ring against a single die
 * (no second die on the wafer to extrapolate from): a lattice error does not cancel there, so
 * the fixed share of thresholds.ts. Two-die extrapolations keep it too where one pair or none
 * is left (die-to-die-rim-ring.ts PAIRS_DECIDE_BIT: there it also stands in for a reticle
 * field's die levels, which 2 near - far carries twice). It caps every other share (pairs and
 * two-die extrapolations, below).
 */
export const MISREGISTRATION_SHARE = DETECTION.misregistrationShare;

/**
 * Share of the reference's local 2x2 range forgiven for the pair average along a die vector
 * d (map px). The two bilinear samples at p + d and p - d sit at fractional offsets (fx, fy)
 * and (1 - fx, 1 - fy): an error in the measured lattice moves them in opposite directions and
 * cancels to first order, and their average is the pattern blurred by a kernel of variance
 * fx(1 - fx) along x and fy(1 - fy) along y. That blur moves a value by half the variance
 * times the second difference, at most twice the first differences that the cell's range
 * bounds: fx(1 - fx) + fy(1 - fy) of the range (0 on an integer lattice, 0.5 at half-pixel
 * offsets on both axes). The die under test was itself sampled at its own phase, which the
 * lattice does not know: up to one more quarter (the largest f(1 - f)) is forgiven for that
 * (DETECTION.samplingPhaseShare). Never more than the fixed share used where a pair is missing.
 */
export function pairMisregistrationShare(d: Vector): number {
  const fx = d.x - Math.floor(d.x);
  const fy = d.y - Math.floor(d.y);
  return Math.min(
    MISREGISTRATION_SHARE,
    fx * (1 - fx) + fy * (1 - fy) + DETECTION.samplingPhaseShare,
  );
}

/**
 * Share of the reference cells' summed range (2 x near + far) forgiven for the rim ring's
 * two-die extrapolation 2 near - far along a die vector d (map px). The spec's die grid is
 * rectangular and its dies identical, so an error e in the measured vector puts the near
 * sample at d + e from its true spot and the far one at 2(d + e): 2 (-g.e) - (-2 g.e) = 0, the
 * lattice error cancels to first order, as in a pair (the fixed MISREGISTRATION_SHARE assumed
 * it does not). What is left is each bilinear sample's own blur, at most f(1 - f) of its cell's
 * range per axis (pairMisregistrationShare's bound, per sample): s(d) at the near sample, s(2d)
 * at the far one, weighted 2 and 1, so at most max(s(d), s(2d)) x (2 near range + far range).
 * The die under test's own sampling phase adds DETECTION.samplingPhaseShare of one range, the
 * near cell's, at most half of that share of the sum. Never more than the fixed share.
 */
export function extrapolationMisregistrationShare(d: Vector): number {
  return Math.min(
    MISREGISTRATION_SHARE,
    Math.max(sampleBlurShare(d.x, d.y), sampleBlurShare(2 * d.x, 2 * d.y)) +
      DETECTION.samplingPhaseShare / 2,
  );
}

/** fx(1 - fx) + fy(1 - fy) at the fractional offsets of a shift (x, y): one bilinear sample's blur share. */
function sampleBlurShare(x: number, y: number): number {
  const fx = x - Math.floor(x);
  const fy = y - Math.floor(y);
  return fx * (1 - fx) + fy * (1 - fy);
}

/**
 * One row of cell ranges: into[intoBase + x] = max - min of the 2x2 cell whose top-left pixel
 * is (x, y): how much a sample taken anywhere in that cell can move with sub-pixel
 * misregistration on a pattern edge. Filled for every cell a sample within validR of (cx, cy)
 * can fall in (the disk plus a margin); the rest of the row is 0. Each column's max and min of
 * its two pixels is taken once and carried to the next cell, which shares that column.
 * Math.max and Math.min are exact and order-free (signed zeros and NaN included), so any
 * grouping of the four gives the same value.
 */
function cellRangeRow(
  data: Float32Array,
  width: number,
  height: number,
  cx: number,
  cy: number,
  validR: number,
  y: number,
  into: Float32Array,
  intoBase: number,
  frame: KernelFrame | null,
): void {
  into.fill(0, intoBase, intoBase + width);
  const span = cellSpan(width, height, cx, cy, validR, y);
  if (!span) return;
  const [x0, x1] = span;
  if (frame) {
    // Same values, four cells per instruction (die-to-die.wat); `into` is the kernel's ring.
    frame.kernel.cellRanges(
      frame.dataOffset + 4 * (y * width + x0),
      width,
      frame.ringOffset + 4 * (intoBase + x0),
      x1 - x0 + 1,
    );
    return;
  }
  let i = y * width + x0;
  let o = intoBase + x0;
  let top = data[i] as number;
  let bottom = data[i + width] as number;
  let columnHi = Math.max(top, bottom);
  let columnLo = Math.min(top, bottom);
  for (let x = x0; x <= x1; x++, i++, o++) {
    top = data[i + 1] as number;
    bottom = data[i + width + 1] as number;
    const nextHi = Math.max(top, bottom);
    const nextLo = Math.min(top, bottom);
    into[o] = Math.max(columnHi, nextHi) - Math.min(columnLo, nextLo);
    columnHi = nextHi;
    columnLo = nextLo;
  }
}

/** The cells [x0, x1] of cell row y that a sample within validR of (cx, cy) can fall in, or null. */
function cellSpan(
  width: number,
  height: number,
  cx: number,
  cy: number,
  validR: number,
  y: number,
): [number, number] | null {
  const reach = validR + 2;
  if (y < Math.max(0, Math.floor(cy - reach)) || y > Math.min(height - 2, cy + reach)) return null;
  // Samples in this cell row lie at y <= py < y + 1; the nearest of them to the centre row.
  const dy = cy < y ? y - cy : cy > y + 1 ? cy - (y + 1) : 0;
  if (dy >= reach) return null;
  const half = Math.sqrt(reach * reach - dy * dy);
  return [Math.max(0, Math.floor(cx - half)), Math.min(width - 2, Math.ceil(cx + half))];
}

/**
 * The cell ranges of the rows the current image row's references can reach, in a ring of
 * rows (not a map of the frame: a few hundred rows at most, a quarter of the memory or less).
 * Cell row y lives in ring row y mod rows; `delta(y, iy, ix)` turns a pixel index of image
 * row y into the ring index of the cell iy rows and ix columns away.
 */
export class CellRangeRing {
  readonly values: Float32Array;
  private nextRow: number;

  private readonly map: FloatMap;
  private readonly cx: number;
  private readonly cy: number;
  private readonly validR: number;
  private readonly rows: number;
  /** When given, the ring lives in the kernel's memory and its rows are filled there. */
  private readonly frame: KernelFrame | null;

  constructor(
    map: FloatMap,
    cx: number,
    cy: number,
    validR: number,
    rows: number,
    firstRow: number,
    frame: KernelFrame | null,
  ) {
    this.map = map;
    this.cx = cx;
    this.cy = cy;
    this.validR = validR;
    this.rows = rows;
    this.frame = frame;
    this.values = frame ? frame.ring(rows * map.width) : new Float32Array(rows * map.width);
    this.nextRow = firstRow;
  }

  /** Computes every cell row up to `lastRow` not computed yet (rows are needed in order). */
  fillTo(lastRow: number): void {
    const { data, width, height } = this.map;
    for (; this.nextRow <= lastRow; this.nextRow++) {
      const slot = this.slotOf(this.nextRow);
      const { cx, cy, validR, values, frame } = this;
      cellRangeRow(data, width, height, cx, cy, validR, this.nextRow, values, slot * width, frame);
    }
  }

  delta(y: number, iy: number, ix: number): number {
    return (this.slotOf(y + iy) - y) * this.map.width + ix;
  }

  private slotOf(row: number): number {
    return ((row % this.rows) + this.rows) % this.rows;
  }
}

/**
 * The linear-interpolation error of a pair's references (branch trough9, docs/detector-recall.md
 * rounds 27 and 31). A bilinear sample at fraction f between two map pixels along an axis misses
 * the pattern by up to f(1 - f) / 2 x its second difference across that axis (the textbook bound
 * of linear interpolation); both samples of a pair sit at f and 1 - f, so one coefficient serves
 * both. The slope-based share above cannot bound it: at the bottom of a narrow trough or the top
 * of a narrow ridge (a dark street, a motif line 1-2 map px wide) the reference's 2x2 range is
 * near 0 while the second difference is largest, so on a half-integer map pitch every second
 * street row read as a line of voids.
 */
export interface PairSamples {
  /** Index offsets of the two references' cells (top-left pixel) from the pixel's index. */
  plus: number;
  minus: number;
  /** Each sample's fractions inside its cell. */
  plusFx: number;
  plusFy: number;
  minusFx: number;
  minusFy: number;
  /** fx(1 - fx) / 2 and fy(1 - fy) / 2: the bound's coefficients along x and y (one per pair). */
  cx: number;
  cy: number;
  /** The direction's slope share (pairMisregistrationShare). */
  share: number;
}

/** The four directions' pair samples (a, b, a + b, a - b) for a map `width` wide, as dieToDieResidual takes them. */
export function pairSamples(a: Vector, b: Vector, width: number): PairSamples[] {
  const dirs: Vector[] = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  return dirs.map((d) => {
    const plusX = Math.floor(d.x);
    const plusY = Math.floor(d.y);
    const minusX = Math.floor(-d.x);
    const minusY = Math.floor(-d.y);
    const fx = d.x - plusX;
    const fy = d.y - plusY;
    return {
      plus: plusY * width + plusX,
      minus: minusY * width + minusX,
      plusFx: fx,
      plusFy: fy,
      minusFx: -d.x - minusX,
      minusFy: -d.y - minusY,
      cx: (fx * (1 - fx)) / 2,
      cy: (fy * (1 - fy)) / 2,
      share: pairMisregistrationShare(d),
    };
  });
}

/**
 * The largest |second difference across y| over the 2x2 cell at j: rows j - width .. j + 2
 * width of its two columns, eight reads for the four second differences.
 */
export function cellCurvatureY(data: Float32Array, width: number, j: number): number {
  const above = j - width;
  const below = j + 2 * width;
  const l0 = data[above] as number;
  const l1 = data[j] as number;
  const l2 = data[j + width] as number;
  const l3 = data[below] as number;
  const r0 = data[above + 1] as number;
  const r1 = data[j + 1] as number;
  const r2 = data[j + width + 1] as number;
  const r3 = data[below + 1] as number;
  return Math.max(
    Math.max(Math.abs(l0 - 2 * l1 + l2), Math.abs(l1 - 2 * l2 + l3)),
    Math.max(Math.abs(r0 - 2 * r1 + r2), Math.abs(r1 - 2 * r2 + r3)),
  );
}

/** The largest |second difference across x| over the 2x2 cell at j: columns -1 .. 2 of its two rows. */
export function cellCurvatureX(data: Float32Array, width: number, j: number): number {
  const t0 = data[j - 1] as number;
  const t1 = data[j] as number;
  const t2 = data[j + 1] as number;
  const t3 = data[j + 2] as number;
  const k = j + width;
  const b0 = data[k - 1] as number;
  const b1 = data[k] as number;
  const b2 = data[k + 1] as number;
  const b3 = data[k + 2] as number;
  return Math.max(
    Math.max(Math.abs(t0 - 2 * t1 + t2), Math.abs(t1 - 2 * t2 + t3)),
    Math.max(Math.abs(b0 - 2 * b1 + b2), Math.abs(b1 - 2 * b2 + b3)),
  );
}

/** The pair's reference for the pixel at index `at`, in interiorRun's order of operations (the same value). */
function pairReference(data: Float32Array, width: number, at: number, pair: PairSamples): number {
  const jp = at + pair.plus;
  const jm = at + pair.minus;
  const aLeft = data[jp] as number;
  const aTop = aLeft + ((data[jp + 1] as number) - aLeft) * pair.plusFx;
  const aBottomLeft = data[jp + width] as number;
  const aBottom = aBottomLeft + ((data[jp + width + 1] as number) - aBottomLeft) * pair.plusFx;
  const bLeft = data[jm] as number;
  const bTop = bLeft + ((data[jm + 1] as number) - bLeft) * pair.minusFx;
  const bBottomLeft = data[jm + width] as number;
  const bBottom = bBottomLeft + ((data[jm + width + 1] as number) - bBottomLeft) * pair.minusFx;
  return 0.5 * (aTop + (aBottom - aTop) * pair.plusFy + bTop + (bBottom - bTop) * pair.minusFy);
}

/** The 2x2 range of the cell at j (cellRangeRow's value). */
export function cellRangeAt(data: Float32Array, width: number, j: number): number {
  const p = data[j] as number;
  const q = data[j + 1] as number;
  const r = data[j + width] as number;
  const s = data[j + width + 1] as number;
  return Math.max(p, q, r, s) - Math.min(p, q, r, s);
}

/**
 * Adds the interpolation-error term to the allowance of interior pixels (edgeMask 0) whose
 * residual is at least `gate`, and writes the residual again (2nd smallest of the four
 * deviations, signed by their sum) where it shrinks. Across each axis the term acts only where
 * the anchor (the direction sampled nearest the pixel's own phase across it) agrees with the
 * pixel within `gate`: a defect in the die under test disagrees with every direction, so none of
 * its contrast is forgiven; a sampling-phase leftover disagrees only with the directions sampled
 * between pixels. The curvature is read in the eight reference dies, never in the die under
 * test. A larger allowance can only lower a residual, and under the gate no seed or footprint
 * candidate depends on the value, so the pass reads only where the residual stands out (about
 * 1% of the disk) instead of every pixel in the kernel. The rim ring (extrapolated or single
 * references) keeps its fixed share. Returns how many pixels it lowered.
 */
export function boundInterpolationError(
  map: FloatMap,
  a: Vector,
  b: Vector,
  region: { cx: number; cy: number; r: number },
  sigma: number,
  gate: number,
  edgeMask: Uint8Array,
  residual: Float32Array,
  /**
   * dieToDieResidual's list of the pixels that may stand out, when no pass since has raised a
   * pixel's |residual|: the gated pixels are then found among them (the same pixels, in the
   * same order) instead of by a walk over the disk.
   */
  standing?: StandingOut,
): number {
  const { data, width } = map;
  const anchored = anchoredGatedPixels(map, a, b, region, gate, edgeMask, 0, residual, standing);
  if (!anchored) return 0;
  const { pairs, anchorX, anchorY, gated } = anchored;
  const differences = new Float64Array(4);
  const slopes = new Float64Array(4);
  const deviations = new Float64Array(4);
  let lowered = 0;
  for (const at of gated) {
    const old = residual[at] as number;
    const v = data[at] as number;
    // The interpolation error is forgiven across an axis only where the anchor's references
    // agree with the pixel before any allowance (on an edge the slope's allowance would
    // forgive a defect along the anchor too): then the die under test holds what its own
    // phase of the pattern shows, and the other directions' disagreement is their samples'
    // phase. A defect in the die under test disagrees with the anchor too, so its contrast is
    // never forgiven. The anchors are read first: most pixels over the gate are defects.
    const agreement = Math.min(gate, INTERPOLATION_ERROR.agreeShare * Math.abs(old));
    const agreeX =
      anchorX >= 0 &&
      Math.abs(v - pairReference(data, width, at, pairs[anchorX] as PairSamples)) < agreement;
    const agreeY =
      anchorY >= 0 &&
      (anchorY === anchorX
        ? agreeX
        : Math.abs(v - pairReference(data, width, at, pairs[anchorY] as PairSamples)) < agreement);
    if (!agreeX && !agreeY) continue;
    for (let k = 0; k < 4; k++) {
      const pair = pairs[k] as PairSamples;
      // Interior pixels' references lie on the wafer (the disk less 1.5 px), so the
      // curvature's reads one pixel beyond their cells stay inside the map.
      const jp = at + pair.plus;
      const jm = at + pair.minus;
      differences[k] = v - pairReference(data, width, at, pair);
      slopes[k] = pair.share * Math.max(cellRangeAt(data, width, jp), cellRangeAt(data, width, jm));
    }
    // The pattern's curvature across each axis, read in the reference dies off the pixel's
    // own die row along it (all directions but that axis' anchor), at their several sub-pixel
    // phases: never in the die under test, nor in the dies a scratch along the anchor's row
    // would share with it.
    let curvatureX = 0;
    let curvatureY = 0;
    for (let k = 0; k < 4; k++) {
      const pair = pairs[k] as PairSamples;
      if (agreeX && k !== anchorX)
        curvatureX = Math.max(
          curvatureX,
          cellCurvatureX(data, width, at + pair.plus),
          cellCurvatureX(data, width, at + pair.minus),
        );
      if (agreeY && k !== anchorY)
        curvatureY = Math.max(
          curvatureY,
          cellCurvatureY(data, width, at + pair.plus),
          cellCurvatureY(data, width, at + pair.minus),
        );
    }
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      const pair = pairs[k] as PairSamples;
      const term = pair.cx * curvatureX + pair.cy * curvatureY;
      const allowance = Math.max(0, (slopes[k] as number) + term - sigma);
      const d = differences[k] as number;
      const e = d - Math.min(Math.max(d, -allowance), allowance);
      deviations[k] = Math.abs(e);
      sum += e;
    }
    deviations.sort();
    const value = Math.sign(sum) * (deviations[1] as number);
    if (Math.abs(value) < Math.abs(old)) {
      residual[at] = value;
      lowered++;
    }
  }
  return lowered;
}

/**
 * What both interpolation-error passes (interior, and rim ring: round 41) start from: the four
 * pairs' sample positions, the anchor across each axis, and the pixels with edgeMask `mask` over
 * the gate; null where no pass is needed (every direction samples at the pixel's own phase, or
 * no direction does across either axis).
 */
export function anchoredGatedPixels(
  map: FloatMap,
  a: Vector,
  b: Vector,
  region: { cx: number; cy: number; r: number },
  gate: number,
  edgeMask: Uint8Array,
  mask: number,
  residual: Float32Array,
  standing?: StandingOut,
): { pairs: PairSamples[]; anchorX: number; anchorY: number; gated: number[] } | null {
  const { width, height } = map;
  const pairs = pairSamples(a, b, width);
  if (pairs.every((p) => p.cx === 0 && p.cy === 0)) return null;
  // Per axis, the direction whose samples lie nearest the pixel's own phase across it (the
  // least coefficient; 0 on an axis-aligned lattice): its references show the pattern as the
  // die under test was sampled.
  const anchorX = anchorOf(pairs.map((p) => p.cx));
  const anchorY = anchorOf(pairs.map((p) => p.cy));
  if (anchorX < 0 && anchorY < 0) return null;
  // Every pixel read by a pass only writes itself, so the gated ones can be listed first.
  const gated = standing?.serves(region, width, gate)
    ? gatedAmong(standing, residual, edgeMask, mask, gate)
    : gatedPixels(residual, edgeMask, mask, width, height, region, gate);
  return { pairs, anchorX, anchorY, gated };
}

/**
 * Pixels of the disk with |residual| >= gate and edgeMask `mask` (0 interior, 1 rim ring), in
 * raster order. A small function of its own: V8 compiles the scan several times slower inside
 * the long pass (as the footprint pass's scan, die-to-die-footprint-candidates.ts localMaxima).
 */
export function gatedPixels(
  residual: Float32Array,
  edgeMask: Uint8Array,
  mask: number,
  width: number,
  height: number,
  { cx, cy, r }: { cx: number; cy: number; r: number },
  gate: number,
): number[] {
  const gated: number[] = [];
  const y0 = Math.max(0, Math.ceil(cy - r));
  const y1 = Math.min(height - 1, Math.floor(cy + r));
  for (let y = y0; y <= y1; y++) {
    const dy = y - cy;
    const half = Math.sqrt(Math.max(0, r * r - dy * dy));
    const x0 = Math.max(0, Math.ceil(cx - half));
    const x1 = Math.min(width - 1, Math.floor(cx + half));
    for (let at = y * width + x0, end = y * width + x1; at <= end; at++) {
      const value = residual[at] as number;
      if ((value >= gate || value <= -gate) && edgeMask[at] === mask) gated.push(at);
    }
  }
  return gated;
}

/**
 * gatedPixels' answer from dieToDieResidual's list: its pixels are the disk's spans as
 * gatedPixels walks them (the same region, width and formulas), ascending, and hold every one
 * whose |residual| reaches the list's limit (at most the gate), so the pixels over the gate
 * are among them, in the same order.
 */
export function gatedAmong(
  standing: StandingOut,
  residual: Float32Array,
  edgeMask: Uint8Array,
  mask: number,
  gate: number,
): number[] {
  const gated: number[] = [];
  const { indices, count } = standing;
  for (let n = 0; n < count; n++) {
    const at = indices[n] as number;
    const value = residual[at] as number;
    if ((value >= gate || value <= -gate) && edgeMask[at] === mask) gated.push(at);
  }
  return gated;
}

/**
 * The anchor across one axis: the direction with the least coefficient (its samples lie nearest
 * the pixel's own phase across the axis), whenever any direction samples between pixels at all;
 * else -1 (a whole-pixel lattice: nothing to bound). No bar on how small the least must be: what
 * keeps a weak defect from passing as a sampling leftover is the agreement's cap (agreeShare, half
 * the pixel's residual), not the anchor's own share (round 45 of docs/detector-recall.md: with the
 * cap kept, 7063-6/001's scratch is found with any least coefficient). A bar refused lattices
 * turned so that every direction samples between pixels, exactly where a narrow dark street leaves
 * its largest leftovers (round 46: seed 20261525's 1/wafer-043, two false particles in the rim
 * ring, anchor refused at 0.265 of the largest).
 */
export function anchorOf(coefficients: number[]): number {
  let least = 0;
  let largest = 0;
  for (let k = 1; k < coefficients.length; k++) {
    if ((coefficients[k] as number) < (coefficients[least] as number)) least = k;
    if ((coefficients[k] as number) > (coefficients[largest] as number)) largest = k;
  }
  return (coefficients[largest] as number) > 0 ? least : -1;
}
