// Die levelling: each die's own level offset (reticle fields) removed from the die-to-die residual.
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import { selectKth } from "./raster.ts";

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
      if (!(sampleKeys && sampleValues)) {
        // Counting only (the first pass): the run's counts in locals, added once per run, so
        // no count waits on the previous sample's store to the same key. Whole numbers: the
        // same counts as adding one at a time.
        let inner = 0;
        let innerBelow = 0;
        let innerAbove = 0;
        let edge = 0;
        let edgeBelow = 0;
        let edgeAbove = 0;
        let nan = 0;
        for (; x <= end && n < capacity; x += 2) {
          const at = y * width + x;
          const zone = edgeMask[at] as number;
          const v = residual[at] as number;
          const below = +(v < minTypicalOffset);
          const above = +(v > -minTypicalOffset);
          if (above === 0 && Number.isNaN(v)) nan = 1;
          if (zone === 0) {
            inner++;
            innerBelow += below;
            innerAbove += above;
          } else if (zone === 1) {
            edge++;
            edgeBelow += below;
            edgeAbove += above;
          } else {
            const k = cell + zone;
            perKey[k + 1] = (perKey[k + 1] as number) + 1;
            belowTypical[k] = (belowTypical[k] as number) + below;
            aboveMinusTypical[k] = (aboveMinusTypical[k] as number) + above;
          }
          n++;
        }
        perKey[cell + 1] = (perKey[cell + 1] as number) + inner;
        perKey[cell + 2] = (perKey[cell + 2] as number) + edge;
        belowTypical[cell] = (belowTypical[cell] as number) + innerBelow;
        belowTypical[cell + 1] = (belowTypical[cell + 1] as number) + edgeBelow;
        aboveMinusTypical[cell] = (aboveMinusTypical[cell] as number) + innerAbove;
        aboveMinusTypical[cell + 1] = (aboveMinusTypical[cell + 1] as number) + edgeAbove;
        if (nan !== 0) sawNaN = true;
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
