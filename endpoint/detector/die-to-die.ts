// Die-to-die residual of a patterned wafer: each pixel against the same spot in neighbouring dies.
import { type Kernel, kernelLayout, PARAMETER_BYTES } from "./kernel.ts";
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import { type FloatMap, selectKth } from "./raster.ts";
import { DETECTION } from "./thresholds.ts";

interface Shift {
  x: number;
  y: number;
  offset: number;
  fx: number;
  fy: number;
}

/**
 * Share of the reference's local 2x2 range forgiven in the rim ring, where some reference is
 * not a pair average (an extrapolation from two dies, or a single die): a lattice error does
 * not cancel there, the steep vignetting near the rim leaves curvature the pairs do not
 * remove, and the ring's own misregistration is not measured; so the fixed share of
 * thresholds.ts, for every comparison of a ring pixel.
 */
const MISREGISTRATION_SHARE = DETECTION.misregistrationShare;

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

function shiftOf(x: number, y: number, width: number): Shift {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  return { x, y, offset: iy * width + ix, fx: x - ix, fy: y - iy };
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
class CellRangeRing {
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
 * Residuals of pixels rowBase+from .. rowBase+to, all of whose neighbour samples lie on the
 * wafer: pair-averaged references, edge allowance, 2nd smallest deviation. Closure-free and
 * branch-free (min/max instead of ifs): on real, noisy data the branches of a naive version
 * mispredict about half the time and cost three times the arithmetic. The eight shifts are
 * written out with their offsets and fractions in locals, not read from tables per pixel: this
 * loop is most of the die-to-die stage. Each bilinear sample's right-hand column is the next
 * pixel's left-hand one, so it is carried over (top, bottom) instead of read again: half the
 * reads, the same arithmetic on the same values.
 */
function interiorRun(
  data: Float32Array,
  width: number,
  out: Float32Array,
  rowBase: number,
  from: number,
  to: number,
  offsets: Int32Array,
  fxs: Float64Array,
  fys: Float64Array,
  noiseSigma: number,
  range: Float32Array,
  /** Per shift, ring index of its reference's cell minus the pixel index (CellRangeRing). */
  rangeDeltas: Int32Array,
  /** Per direction, the share of the range forgiven (pairMisregistrationShare). */
  shares: Float64Array,
): void {
  const share0 = shares[0] as number;
  const share1 = shares[1] as number;
  const share2 = shares[2] as number;
  const share3 = shares[3] as number;
  const o0 = offsets[0] as number;
  const fx0 = fxs[0] as number;
  const fy0 = fys[0] as number;
  const o1 = offsets[1] as number;
  const fx1 = fxs[1] as number;
  const fy1 = fys[1] as number;
  const o2 = offsets[2] as number;
  const fx2 = fxs[2] as number;
  const fy2 = fys[2] as number;
  const o3 = offsets[3] as number;
  const fx3 = fxs[3] as number;
  const fy3 = fys[3] as number;
  const o4 = offsets[4] as number;
  const fx4 = fxs[4] as number;
  const fy4 = fys[4] as number;
  const o5 = offsets[5] as number;
  const fx5 = fxs[5] as number;
  const fy5 = fys[5] as number;
  const o6 = offsets[6] as number;
  const fx6 = fxs[6] as number;
  const fy6 = fys[6] as number;
  const o7 = offsets[7] as number;
  const fx7 = fxs[7] as number;
  const fy7 = fys[7] as number;
  const r0 = rangeDeltas[0] as number;
  const r1 = rangeDeltas[1] as number;
  const r2 = rangeDeltas[2] as number;
  const r3 = rangeDeltas[3] as number;
  const r4 = rangeDeltas[4] as number;
  const r5 = rangeDeltas[5] as number;
  const r6 = rangeDeltas[6] as number;
  const r7 = rangeDeltas[7] as number;
  const first = rowBase + from;
  let top0 = data[first + o0] as number;
  let bottom0 = data[first + o0 + width] as number;
  let top1 = data[first + o1] as number;
  let bottom1 = data[first + o1 + width] as number;
  let top2 = data[first + o2] as number;
  let bottom2 = data[first + o2 + width] as number;
  let top3 = data[first + o3] as number;
  let bottom3 = data[first + o3 + width] as number;
  let top4 = data[first + o4] as number;
  let bottom4 = data[first + o4 + width] as number;
  let top5 = data[first + o5] as number;
  let bottom5 = data[first + o5 + width] as number;
  let top6 = data[first + o6] as number;
  let bottom6 = data[first + o6 + width] as number;
  let top7 = data[first + o7] as number;
  let bottom7 = data[first + o7 + width] as number;
  for (let base = first; base <= rowBase + to; base++) {
    const v = data[base] as number;
    const j0 = base + o0;
    const aLeft0 = top0;
    top0 = data[j0 + 1] as number;
    const aTop0 = aLeft0 + (top0 - aLeft0) * fx0;
    const aBottomLeft0 = bottom0;
    bottom0 = data[j0 + width + 1] as number;
    const aBottom0 = aBottomLeft0 + (bottom0 - aBottomLeft0) * fx0;
    const j1 = base + o1;
    const bLeft0 = top1;
    top1 = data[j1 + 1] as number;
    const bTop0 = bLeft0 + (top1 - bLeft0) * fx1;
    const bBottomLeft0 = bottom1;
    bottom1 = data[j1 + width + 1] as number;
    const bBottom0 = bBottomLeft0 + (bottom1 - bBottomLeft0) * fx1;
    const ref0 = 0.5 * (aTop0 + (aBottom0 - aTop0) * fy0 + bTop0 + (bBottom0 - bTop0) * fy1);
    const allowance0 = Math.max(
      0,
      share0 * Math.max(range[base + r0] as number, range[base + r1] as number) - noiseSigma,
    );
    const d0 = v - ref0;
    const e0 = d0 - Math.min(Math.max(d0, -allowance0), allowance0);
    const j2 = base + o2;
    const aLeft1 = top2;
    top2 = data[j2 + 1] as number;
    const aTop1 = aLeft1 + (top2 - aLeft1) * fx2;
    const aBottomLeft1 = bottom2;
    bottom2 = data[j2 + width + 1] as number;
    const aBottom1 = aBottomLeft1 + (bottom2 - aBottomLeft1) * fx2;
    const j3 = base + o3;
    const bLeft1 = top3;
    top3 = data[j3 + 1] as number;
    const bTop1 = bLeft1 + (top3 - bLeft1) * fx3;
    const bBottomLeft1 = bottom3;
    bottom3 = data[j3 + width + 1] as number;
    const bBottom1 = bBottomLeft1 + (bottom3 - bBottomLeft1) * fx3;
    const ref1 = 0.5 * (aTop1 + (aBottom1 - aTop1) * fy2 + bTop1 + (bBottom1 - bTop1) * fy3);
    const allowance1 = Math.max(
      0,
      share1 * Math.max(range[base + r2] as number, range[base + r3] as number) - noiseSigma,
    );
    const d1 = v - ref1;
    const e1 = d1 - Math.min(Math.max(d1, -allowance1), allowance1);
    const j4 = base + o4;
    const aLeft2 = top4;
    top4 = data[j4 + 1] as number;
    const aTop2 = aLeft2 + (top4 - aLeft2) * fx4;
    const aBottomLeft2 = bottom4;
    bottom4 = data[j4 + width + 1] as number;
    const aBottom2 = aBottomLeft2 + (bottom4 - aBottomLeft2) * fx4;
    const j5 = base + o5;
    const bLeft2 = top5;
    top5 = data[j5 + 1] as number;
    const bTop2 = bLeft2 + (top5 - bLeft2) * fx5;
    const bBottomLeft2 = bottom5;
    bottom5 = data[j5 + width + 1] as number;
    const bBottom2 = bBottomLeft2 + (bottom5 - bBottomLeft2) * fx5;
    const ref2 = 0.5 * (aTop2 + (aBottom2 - aTop2) * fy4 + bTop2 + (bBottom2 - bTop2) * fy5);
    const allowance2 = Math.max(
      0,
      share2 * Math.max(range[base + r4] as number, range[base + r5] as number) - noiseSigma,
    );
    const d2 = v - ref2;
    const e2 = d2 - Math.min(Math.max(d2, -allowance2), allowance2);
    const j6 = base + o6;
    const aLeft3 = top6;
    top6 = data[j6 + 1] as number;
    const aTop3 = aLeft3 + (top6 - aLeft3) * fx6;
    const aBottomLeft3 = bottom6;
    bottom6 = data[j6 + width + 1] as number;
    const aBottom3 = aBottomLeft3 + (bottom6 - aBottomLeft3) * fx6;
    const j7 = base + o7;
    const bLeft3 = top7;
    top7 = data[j7 + 1] as number;
    const bTop3 = bLeft3 + (top7 - bLeft3) * fx7;
    const bBottomLeft3 = bottom7;
    bottom7 = data[j7 + width + 1] as number;
    const bBottom3 = bBottomLeft3 + (bottom7 - bBottomLeft3) * fx7;
    const ref3 = 0.5 * (aTop3 + (aBottom3 - aTop3) * fy6 + bTop3 + (bBottom3 - bTop3) * fy7);
    const allowance3 = Math.max(
      0,
      share3 * Math.max(range[base + r6] as number, range[base + r7] as number) - noiseSigma,
    );
    const d3 = v - ref3;
    const e3 = d3 - Math.min(Math.max(d3, -allowance3), allowance3);
    const m0 = Math.abs(e0);
    const m1 = Math.abs(e1);
    const m2 = Math.abs(e2);
    const m3 = Math.abs(e3);
    // 2nd smallest of four magnitudes without branches.
    const second = Math.min(
      Math.max(Math.min(m0, m1), Math.min(m2, m3)),
      Math.min(Math.max(m0, m1), Math.max(m2, m3)),
    );
    // A real defect differs from its neighbours all in one direction; the sum carries that sign.
    out[base] = Math.sign(e0 + e1 + e2 + e3) * second;
  }
}

interface KernelFrame {
  kernel: Kernel;
  dataOffset: number;
  ringOffset: number;
  /** The map the kernel reads (width x height floats in its memory). */
  data(): Float32Array;
  /** The ring of cell ranges, `length` floats in the kernel's memory. */
  ring(length: number): Float32Array;
  /** The shifts one die away (the interior's), then two dies away (the ring's extrapolations). */
  setParameters(
    fxs: Float64Array,
    fys: Float64Array,
    shares: Float64Array,
    noiseSigma: number,
    offsets: Int32Array,
    fxs2: Float64Array,
    fys2: Float64Array,
    offsets2: Int32Array,
  ): void;
  /** The ring offsets of the current row's reference cells, one and two dies away. */
  setRow(rangeDeltas: Int32Array, rangeDeltas2: Int32Array): void;
  /**
   * Residual, edge mask and edge gain of pixels x0..x1 of the row starting at map index `base`
   * (interiorRun's work on runFrom..runTo, edgePixel's on the rest) into out, edgeMask,
   * edgeGain; lower..upper2 are the row's runs of each shift (rowIntervals).
   */
  row(
    base: number,
    span: { x0: number; x1: number; runFrom: number; runTo: number },
    runs: { lower: Int32Array; upper: Int32Array; lower2: Int32Array; upper2: Int32Array },
    out: Float32Array,
    edgeMask: Uint8Array | undefined,
    edgeGain: Uint8Array | undefined,
  ): void;
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
const EDGE_GAIN_TABLE = edgeGainTable();

/**
 * The kernel's memory laid out for a width x height map (kernel.ts), with views of its
 * parameters and output row, or null when the JavaScript path runs.
 */
function kernelFrame(width: number, height: number): KernelFrame | null {
  const layout = kernelLayout(width, height);
  if (!layout) return null;
  const { kernel, buffer, dataOffset, ringOffset, outOffset, maskOffset, gainOffset } = layout;
  const size = width * height;
  const doubles = new Float64Array(buffer, 0, PARAMETER_BYTES / 8);
  const integers = new Int32Array(buffer, 0, PARAMETER_BYTES / 4);
  const outRow = new Float32Array(buffer, outOffset, width + 16);
  const maskRow = new Uint8Array(buffer, maskOffset, width + 16);
  const gainRow = new Uint8Array(buffer, gainOffset, width + 16);
  return {
    kernel,
    dataOffset,
    ringOffset,
    data: () => new Float32Array(buffer, dataOffset, size),
    ring: (length) => new Float32Array(buffer, ringOffset, length),
    setParameters(fxs, fys, shares, noiseSigma, offsets, fxs2, fys2, offsets2) {
      doubles.set(fxs, 0);
      doubles.set(fys, 8);
      doubles.set(shares, 16);
      doubles[20] = noiseSigma;
      doubles[21] = MISREGISTRATION_SHARE;
      integers.set(offsets, 48);
      doubles.set(fxs2, 32);
      doubles.set(fys2, 40);
      integers.set(offsets2, 96);
      new Uint8Array(buffer, 576, EDGE_GAIN_TABLE.length).set(EDGE_GAIN_TABLE);
    },
    setRow(rangeDeltas, rangeDeltas2) {
      integers.set(rangeDeltas, 56);
      integers.set(rangeDeltas2, 104);
    },
    row(base, { x0, x1, runFrom, runTo }, { lower, upper, lower2, upper2 }, out, mask, gain) {
      // Byte offsets 448, 480, 512, 544 (die-to-die.wat).
      integers.set(lower, 112);
      integers.set(upper, 120);
      integers.set(lower2, 128);
      integers.set(upper2, 136);
      kernel.row(
        dataOffset,
        ringOffset,
        outOffset,
        maskOffset,
        gainOffset,
        width,
        base,
        x0,
        x1,
        runFrom,
        runTo,
      );
      out.set(outRow.subarray(x0, x1 + 1), base + x0);
      mask?.set(maskRow.subarray(x0, x1 + 1), base + x0);
      gain?.set(gainRow.subarray(x0, x1 + 1), base + x0);
    },
  };
}

/**
 * The kernel's frame holding `map`, or null when the JavaScript path runs. The kernel reads the
 * map from its own memory: the stage smooths straight into it (comparisonBuffer); any other
 * map is copied in. Its interior assumes finite values (die-to-die.wat): a map holding a NaN
 * or an infinity (no decoded image does) takes the JavaScript path, with the same results.
 */
function kernelFrameFor(map: FloatMap): KernelFrame | null {
  const { width, height, data } = map;
  const frame = kernelFrame(width, height);
  if (!frame) return null;
  const inside = frame.data();
  if (!(data.buffer === inside.buffer && data.byteOffset === inside.byteOffset)) inside.set(data);
  return frame.kernel.allFinite(frame.dataOffset, width * height) ? frame : null;
}

export { useKernels as useResidualKernel } from "./kernel.ts";

/**
 * A width x height buffer for the smoothed map the residual compares: inside the kernel's
 * memory when it runs (then dieToDieResidual reads it in place; valid until the next call of
 * this or of dieToDieResidual for a larger map), else a new array.
 */
export function comparisonBuffer(width: number, height: number): Float32Array {
  return kernelFrame(width, height)?.data() ?? new Float32Array(width * height);
}

/**
 * residual(p) = how far p stands out from the same die position in the neighbouring dies
 * along a, b, a+b and a-b. Opposite neighbours are averaged, which cancels illumination
 * gradients to first order (vignetting is steep near the rim); where one side leaves the
 * wafer, a linear extrapolation from two dies on the other side does the same job.
 * Each comparison tolerates half the pattern's local range at the reference (less the noise's
 * share), so sub-pixel misregistration on sharp motif edges is not read as a defect.
 * The reported value is the 2nd smallest of the 4 deviations: a defect must differ along
 * at least 3 directions, so a defect in a neighbour die does not echo here, and a scratch
 * running along one lattice axis (where that axis' neighbours share it) stays visible.
 */
export function dieToDieResidual(
  map: FloatMap,
  a: Vector,
  b: Vector,
  region: DiskRegion,
  waferRadius: number,
  noiseSigma: number,
  out: Float32Array,
  /** When given, set to 1 where some reference is extrapolated (near the rim), else 0. */
  edgeMask?: Uint8Array,
  /**
   * When given, each rim-ring pixel's noise gain over an interior pixel (referenceNoiseGain),
   * in units of 1 / EDGE_GAIN_UNIT; interior pixels are set to EDGE_GAIN_UNIT (a gain of 1).
   */
  edgeGain?: Uint8Array,
): void {
  const { width, height, data } = map;
  const dirs: Vector[] = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  const shares = Float64Array.from(dirs, pairMisregistrationShare);
  // Tables, interleaved +d, -d per direction; the x2 tables hold the two-die extrapolation.
  const shiftX = new Float64Array(8);
  const shiftY = new Float64Array(8);
  const offsets = new Int32Array(8);
  const fxs = new Float64Array(8);
  const fys = new Float64Array(8);
  const offsets2 = new Int32Array(8);
  const fxs2 = new Float64Array(8);
  const fys2 = new Float64Array(8);
  dirs.forEach((d, k) => {
    for (const [slot, sign] of [
      [2 * k, 1],
      [2 * k + 1, -1],
    ] as const) {
      const one = shiftOf(sign * d.x, sign * d.y, width);
      const two = shiftOf(2 * sign * d.x, 2 * sign * d.y, width);
      shiftX[slot] = sign * d.x;
      shiftY[slot] = sign * d.y;
      offsets[slot] = one.offset;
      fxs[slot] = one.fx;
      fys[slot] = one.fy;
      offsets2[slot] = two.offset;
      fxs2[slot] = two.fx;
      fys2[slot] = two.fy;
    }
  });
  const { cx, cy, r } = region;
  const validR = waferRadius - 1.5;
  const validR2 = validR * validR;
  const shiftX2 = shiftX.map((v) => 2 * v);
  const shiftY2 = shiftY.map((v) => 2 * v);
  const lower = new Int32Array(8);
  const upper = new Int32Array(8);
  const lower2 = new Int32Array(8);
  const upper2 = new Int32Array(8);
  // Cell rows of the references, relative to the pixel's row (one and two dies away).
  const cellDy = new Int32Array(16);
  const cellDx = new Int32Array(16);
  for (let k = 0; k < 8; k++) {
    cellDy[k] = Math.floor(shiftY[k] as number);
    cellDx[k] = Math.floor(shiftX[k] as number);
    cellDy[8 + k] = Math.floor(shiftY2[k] as number);
    cellDx[8 + k] = Math.floor(shiftX2[k] as number);
  }
  let reachUp = 0;
  let reachDown = 0;
  for (const dy of cellDy) {
    reachUp = Math.min(reachUp, dy);
    reachDown = Math.max(reachDown, dy);
  }
  const yFirst = Math.max(0, Math.ceil(cy - r));
  const frame = kernelFrameFor(map);
  frame?.setParameters(fxs, fys, shares, noiseSigma, offsets, fxs2, fys2, offsets2);
  const yLast = Math.min(height - 1, Math.floor(cy + r));
  // What no row below writes: +0, no extrapolated reference, a gain of 1. The kernel's rows
  // write every pixel x0..x1 of rows yFirst..yLast, so with it only the rest is filled
  // (in each row below); the JavaScript path writes fewer pixels and starts from a full fill.
  const unwritten = (from: number, to: number): void => {
    out.fill(0, from, to);
    edgeMask?.fill(0, from, to);
    edgeGain?.fill(EDGE_GAIN_UNIT, from, to);
  };
  if (frame) {
    unwritten(0, Math.max(0, yFirst) * width);
    unwritten(Math.max(yFirst, yLast + 1) * width, width * height);
  } else unwritten(0, width * height);
  const ring = new CellRangeRing(
    map,
    cx,
    cy,
    validR,
    Math.min(height, reachDown - reachUp + 1),
    yFirst + reachUp,
    frame,
  );
  const range = ring.values;
  const rangeDeltas = new Int32Array(8);
  const rangeDeltas2 = new Int32Array(8);
  for (let y = yFirst; y <= yLast; y++) {
    ring.fillTo(y + reachDown);
    for (let k = 0; k < 8; k++) {
      rangeDeltas[k] = ring.delta(y, cellDy[k] as number, cellDx[k] as number);
      rangeDeltas2[k] = ring.delta(y, cellDy[8 + k] as number, cellDx[8 + k] as number);
    }
    const ddy = y - cy;
    const half = Math.sqrt(Math.max(0, r * r - ddy * ddy));
    const x0 = Math.max(0, Math.ceil(cx - half));
    const x1 = Math.min(width - 1, Math.floor(cx + half));
    // Each shift keeps its sample on the wafer (and in the frame) for one run of x per row;
    // pixels inside all 8 runs take the fast path.
    rowIntervals(y, shiftX, shiftY, cx, cy, validR2, width, height, lower, upper);
    rowIntervals(y, shiftX2, shiftY2, cx, cy, validR2, width, height, lower2, upper2);
    let runFrom = x0;
    let runTo = x1;
    for (let k = 0; k < 8; k++) {
      runFrom = Math.max(runFrom, lower[k] as number);
      runTo = Math.min(runTo, upper[k] as number);
    }
    if (frame) {
      // The whole row in the kernel: interior run, rim-ring segments, mask and gain.
      frame.setRow(rangeDeltas, rangeDeltas2);
      if (x0 <= x1) {
        const span = { x0, x1, runFrom, runTo };
        frame.row(y * width, span, { lower, upper, lower2, upper2 }, out, edgeMask, edgeGain);
        unwritten(y * width, y * width + x0);
        unwritten(y * width + x1 + 1, (y + 1) * width);
      } else unwritten(y * width, (y + 1) * width);
      continue;
    }
    if (runFrom <= runTo) {
      interiorRun(
        data,
        width,
        out,
        y * width,
        runFrom,
        runTo,
        offsets,
        fxs,
        fys,
        noiseSigma,
        range,
        rangeDeltas,
        shares,
      );
    }
    for (let x = x0; x <= x1; x++) {
      if (x === runFrom && runFrom <= runTo) {
        x = runTo;
        continue;
      }
      if (edgeMask) edgeMask[y * width + x] = 1;
      edgePixel(
        data,
        width,
        out,
        y * width + x,
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
    }
  }
}

function bilinearAt(data: Float32Array, width: number, j: number, fx: number, fy: number): number {
  const p00 = data[j] as number;
  const top = p00 + ((data[j + 1] as number) - p00) * fx;
  const p01 = data[j + width] as number;
  const bottom = p01 + ((data[j + width + 1] as number) - p01) * fx;
  return top + (bottom - top) * fy;
}

/** For row y: the x range [lower[k], upper[k]] over which shift k lands on the wafer. */
function rowIntervals(
  y: number,
  shiftX: Float64Array,
  shiftY: Float64Array,
  cx: number,
  cy: number,
  validR2: number,
  width: number,
  height: number,
  lower: Int32Array,
  upper: Int32Array,
): void {
  for (let k = 0; k < 8; k++) {
    const qy = y + (shiftY[k] as number);
    const oy = qy - cy;
    const h2 = validR2 - oy * oy;
    if (h2 <= 0 || qy < 0 || qy >= height - 1) {
      lower[k] = 1;
      upper[k] = 0;
      continue;
    }
    const h = Math.sqrt(h2);
    const sx = shiftX[k] as number;
    lower[k] = Math.max(Math.ceil(cx - h - sx + 1e-9), Math.ceil(-sx));
    upper[k] = Math.min(Math.floor(cx + h - sx - 1e-9), Math.floor(width - 2 - sx));
  }
}

/**
 * One pixel near the rim, where some neighbour dies fall off the wafer: a pair average where
 * both sides exist, else a two-die linear extrapolation from the side that does, else that
 * single die. Every comparison here forgives the fixed share (MISREGISTRATION_SHARE).
 * Closure-free for speed (this ring can hold a third of the disk).
 */
function edgePixel(
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

/** levelDies' cells: the disk, the lattice basis and street phase, the cell grid's size. */
interface DieGrid {
  cx: number;
  cy: number;
  r: number;
  a: Vector;
  b: Vector;
  det: number;
  sOffset: number;
  tOffset: number;
  cells: number;
  half: number;
  y0: number;
  y1: number;
}

/**
 * levelDies' samples (every other pixel of every other row of the disk, up to `capacity`), in
 * row order: per key (2 x cell + zone, levelDies' key), their number (into perKey[key + 1]),
 * how many lie below minTypicalOffset and above -minTypicalOffset, and, when given, each
 * sample's key and value. A row's samples go a run of one cell at a time (cellRunEnd), the
 * zone read per sample; s and t are computed as levelDies' apply loop computes them.
 */
function sampleDies(
  grid: DieGrid,
  residual: Float32Array,
  width: number,
  edgeMask: Uint8Array,
  capacity: number,
  minTypicalOffset: number,
  into: {
    perKey: Int32Array;
    belowTypical: Int32Array;
    aboveMinusTypical: Int32Array;
    sampleKeys?: Int32Array;
    sampleValues?: Float32Array;
  },
): { n: number; sawNaN: boolean } {
  const { cx, cy, r, a, b, det, sOffset, tOffset, cells, half, y0, y1 } = grid;
  const { perKey, belowTypical, aboveMinusTypical, sampleKeys, sampleValues } = into;
  let sawNaN = false;
  let n = 0;
  for (let y = y0; y <= y1; y += 2) {
    const h = Math.sqrt(Math.max(0, r * r - (y - cy) ** 2));
    const xLast = Math.floor(cx + h);
    const dy = y - cy;
    const dyBx = dy * b.x;
    const axDy = a.x * dy;
    for (let x = Math.max(0, Math.ceil(cx - h)); x <= xLast && n < capacity; ) {
      const dx = x - cx;
      const i = Math.floor((dx * b.y - dyBx) / det - sOffset) + half;
      const j = Math.floor((axDy - a.y * dx) / det - tOffset) + half;
      const end = cellRunEnd(x, xLast, cx, b.y, dyBx, a.y, axDy, det, sOffset, tOffset, 2);
      const cell = i < 0 || j < 0 || i >= cells || j >= cells ? -1 : 2 * (j * cells + i);
      if (cell < 0) {
        x = end + 2;
        continue;
      }
      for (; x <= end && n < capacity; x += 2) {
        const at = y * width + x;
        const k = cell + (edgeMask[at] as number);
        const v = residual[at] as number;
        if (sampleKeys && sampleValues) {
          sampleKeys[n] = k;
          sampleValues[n] = v;
        }
        perKey[k + 1] = (perKey[k + 1] as number) + 1;
        if (v < minTypicalOffset) belowTypical[k] = (belowTypical[k] as number) + 1;
        if (v > -minTypicalOffset) aboveMinusTypical[k] = (aboveMinusTypical[k] as number) + 1;
        else if (Number.isNaN(v)) sawNaN = true;
        n++;
      }
      x = end + 2;
    }
  }
  return { n, sawNaN };
}

/**
 * The last sample x0 + stride m (at most xLast) of the run from x0 whose samples share x0's
 * cell in levelDies (the floors of s and t, computed as sampleDies and levelDies' apply loop
 * compute them). Each of s and t is a chain of correctly rounded operations (subtract,
 * multiply, divide by constants), each monotone in its operand, so s, t and their floors are
 * monotone in x and the
 * pixels of one cell along a row are consecutive: the run's end is found by doubling the step
 * from x0, then halving it, a handful of evaluations for a run of some twenty samples.
 * `stride` is 2 for the samples (every other pixel), 1 for the pixels levelling shifts.
 */
function cellRunEnd(
  x0: number,
  xLast: number,
  cx: number,
  by: number,
  dyBx: number,
  ay: number,
  axDy: number,
  det: number,
  sOffset: number,
  tOffset: number,
  stride: number,
): number {
  const dx0 = x0 - cx;
  const i0 = Math.floor((dx0 * by - dyBx) / det - sOffset);
  const j0 = Math.floor((axDy - ay * dx0) / det - tOffset);
  // inside: a sample known to share the cell; outside: the first sample known not to (or one
  // past the row's last sample).
  let inside = x0;
  let outside = x0 + stride * Math.floor((xLast - x0) / stride) + stride;
  for (let step = stride; inside + step < outside; step *= 2) {
    const dx = inside + step - cx;
    const same =
      Math.floor((dx * by - dyBx) / det - sOffset) === i0 &&
      Math.floor((axDy - ay * dx) / det - tOffset) === j0;
    if (!same) {
      outside = inside + step;
      break;
    }
    inside += step;
  }
  while (outside - inside > stride) {
    const x = inside + stride * Math.floor((outside - inside) / (2 * stride));
    const dx = x - cx;
    const same =
      Math.floor((dx * by - dyBx) / det - sOffset) === i0 &&
      Math.floor((axDy - ay * dx) / det - tOffset) === j0;
    if (same) inside = x;
    else outside = x;
  }
  return inside;
}

/**
 * Removes each die's own level offset from the residual: dies of one reticle field differ in
 * level (by up to +-0.75% by the spec), which the die-to-die comparison reads as a whole die
 * standing out. The offset is the median residual over the die's cell (robust to defects
 * covering less than half of it), clamped to what the spec allows between two dies, so a
 * stain covering whole dies keeps all but that much of its contrast. Only where every
 * reference is a pair average: near the rim (edgeMask) the offset is not one number per die.
 * `phase` is the offset (map px, along each lattice unit vector from the disk centre) of a
 * street centre line, as the lattice measures it; cells run street to street.
 */
export function levelDies(
  residual: Float32Array,
  width: number,
  a: Vector,
  b: Vector,
  phase: { a: number; b: number },
  region: DiskRegion,
  maxOffset: number,
  /** 1 where some reference is extrapolated, not a pair average (from dieToDieResidual). */
  edgeMask: Uint8Array,
  /**
   * Reticle level differences are a property of the whole wafer: offsets are removed only
   * when the typical die (median |offset| over all dies) is offset by at least this much.
   * A stain covering a few whole dies then keeps its contrast on an ordinary wafer.
   */
  minTypicalOffset: number,
): boolean {
  const la = Math.hypot(a.x, a.y);
  const lb = Math.hypot(b.x, b.y);
  const { cx, cy, r } = region;
  // Cell coordinates in the lattice basis (a and b need not be orthogonal): solve p = s a + t b.
  const det = a.x * b.y - a.y * b.x;
  if (Math.abs(det) < 1e-9) return false;
  const sOffset = phase.a / la;
  const tOffset = phase.b / lb;
  const cells = Math.ceil((2 * r) / Math.min(la, lb)) + 4;
  const half = Math.floor(cells / 2);
  // A sample's key is 2 x cell + zone (cell j * cells + i from the floors of s and t, found in
  // sampleDies and cellRunEnd): a die crossing the edge zone has two references (pair,
  // extrapolation), so two offsets.
  // Sampled every other pixel: a die holds hundreds of map pixels at the smallest pitch.
  // Samples are bucketed by cell in flat typed arrays (a counting sort by key), not in lists.
  const keyCount = 2 * cells * cells;
  const y0 = Math.max(0, Math.ceil(cy - r));
  const y1 = Math.floor(cy + r);
  const capacity = Math.ceil(((y1 - y0) / 2 + 1) * (r + 1)) + 16;
  const grid: DieGrid = { cx, cy, r, a, b, det, sOffset, tOffset, cells, half, y0, y1 };
  // Per key, the samples below minTypicalOffset and those above -minTypicalOffset: whether a
  // cell's median lies within +-minTypicalOffset follows from these two counts (below). The
  // samples themselves are kept only when that does not decide (a second pass).
  const perKey = new Int32Array(keyCount + 1);
  const belowTypical = new Int32Array(keyCount);
  const aboveMinusTypical = new Int32Array(keyCount);
  const counted = sampleDies(grid, residual, width, edgeMask, capacity, minTypicalOffset, {
    perKey,
    belowTypical,
    aboveMinusTypical,
  });
  const minSamples = 0.05 * ((la * lb) / 4);
  if (!counted.sawNaN && minTypicalOffset <= maxOffset) {
    // Most wafers stop here (no reticle level differences): the typical die's |offset| is
    // below minTypicalOffset exactly when more than half of the dies have |median| below it
    // (as minTypicalOffset <= maxOffset, clamping does not move a median across it), and a
    // cell's median (the floor(count / 2)-th smallest) is below t when at least
    // floor(count / 2) + 1 samples are, above -t when at least count - floor(count / 2) are.
    // Counting decides what the medians below would, without ordering any cell.
    let dies = 0;
    let small = 0;
    for (let k = 0; k < keyCount; k += 2) {
      const count = perKey[k + 1] as number;
      if (count === 0 || count < minSamples) continue;
      dies++;
      const half = Math.floor(count / 2);
      if ((belowTypical[k] as number) > half && (aboveMinusTypical[k] as number) >= count - half)
        small++;
    }
    if (dies === 0 || small > Math.floor(dies / 2)) return false;
  }
  const sampleKeys = new Int32Array(capacity);
  const sampleValues = new Float32Array(capacity);
  perKey.fill(0);
  const { n } = sampleDies(grid, residual, width, edgeMask, capacity, minTypicalOffset, {
    perKey,
    belowTypical,
    aboveMinusTypical,
    sampleKeys,
    sampleValues,
  });
  for (let k = 0; k < keyCount; k++)
    perKey[k + 1] = (perKey[k + 1] as number) + (perKey[k] as number);
  const byKey = new Float32Array(n);
  const fill = perKey.slice(0, keyCount);
  for (let j = 0; j < n; j++) {
    const k = sampleKeys[j] as number;
    byKey[fill[k] as number] = sampleValues[j] as number;
    fill[k] = (fill[k] as number) + 1;
  }

  const offsets = new Float64Array(keyCount);
  let withOffset = 0;
  const magnitudes = new Float64Array(keyCount);
  let dies = 0;
  // In the edge zone (odd keys) the references change from pixel to pixel (pairs along some
  // directions, extrapolations along others): no single die offset there. Left as it is.
  for (let k = 0; k < keyCount; k += 2) {
    const from = perKey[k] as number;
    const count = (perKey[k + 1] as number) - from;
    if (count === 0 || count < minSamples) continue;
    const cell = byKey.subarray(from, from + count);
    const median = selectKth(cell, count, Math.floor(count / 2));
    const clamped = Math.max(-maxOffset, Math.min(maxOffset, median));
    magnitudes[dies++] = Math.abs(clamped);
    offsets[k] = clamped;
    if (clamped !== 0) withOffset++;
  }
  const typical = dies > 0 ? selectKth(magnitudes, dies, Math.floor(dies / 2)) : 0;
  if (withOffset === 0 || typical < minTypicalOffset) return false;
  // A row's pixels go a run of one cell at a time (cellRunEnd, stride 1), as sampleDies' do:
  // the cell is computed once per run. Edge-zone pixels (odd keys) have no offset (above).
  for (let y = y0; y <= y1; y++) {
    const h = Math.sqrt(Math.max(0, r * r - (y - cy) ** 2));
    const xLast = Math.floor(cx + h);
    const dy = y - cy;
    const dyBx = dy * b.x;
    const axDy = a.x * dy;
    for (let x = Math.max(0, Math.ceil(cx - h)); x <= xLast; ) {
      const dx = x - cx;
      const i = Math.floor((dx * b.y - dyBx) / det - sOffset) + half;
      const j = Math.floor((axDy - a.y * dx) / det - tOffset) + half;
      const end = cellRunEnd(x, xLast, cx, b.y, dyBx, a.y, axDy, det, sOffset, tOffset, 1);
      const offset =
        i < 0 || j < 0 || i >= cells || j >= cells ? 0 : (offsets[2 * (j * cells + i)] as number);
      if (offset === 0) {
        x = end + 1;
        continue;
      }
      for (let at = y * width + x, atEnd = y * width + end; at <= atEnd; at++) {
        if (edgeMask[at] === 1) continue;
        // Shrunk towards zero, never past it nor grown: where the edge allowance forgave a
        // pixel (residual 0), the die's offset lies within what was forgiven.
        const v = residual[at] as number;
        residual[at] =
          offset > 0 ? (v > 0 ? Math.max(0, v - offset) : v) : v < 0 ? Math.min(0, v - offset) : v;
      }
      x = end + 1;
    }
  }
  return true;
}
