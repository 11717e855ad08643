// The die-to-die misregistration allowance: the share of a reference's 2x2 cell range forgiven per direction, and those cell ranges row by row.
import type { KernelFrame } from "./die-to-die-frame.ts";
import type { Vector } from "./lattice.ts";
import type { FloatMap } from "./raster.ts";
import { DETECTION } from "./thresholds.ts";

/**
 * Share of the reference's local 2x2 range forgiven in the rim ring, where some reference is
 * not a pair average (an extrapolation from two dies, or a single die): a lattice error does
 * not cancel there, the steep vignetting near the rim leaves curvature the pairs do not
 * remove, and the ring's own misregistration is not measured; so the fixed share of
 * thresholds.ts, for every comparison of a ring pixel.
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
