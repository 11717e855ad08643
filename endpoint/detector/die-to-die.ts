// Die-to-die residual of a patterned wafer: each pixel against the same spot in neighbouring dies, row by row (interior run, rim ring), in the kernel or in JavaScript.
import {
  CellRangeRing,
  extrapolationMisregistrationShare,
  pairMisregistrationShare,
} from "./die-to-die-allowance.ts";
import { kernelFrameFor } from "./die-to-die-frame.ts";
import { interiorRun } from "./die-to-die-interior.ts";
import { EDGE_GAIN_UNIT, edgePixel, rimRingDirections } from "./die-to-die-rim-ring.ts";
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";

interface Shift {
  x: number;
  y: number;
  offset: number;
  fx: number;
  fy: number;
}

function shiftOf(x: number, y: number, width: number): Shift {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  return { x, y, offset: iy * width + ix, fx: x - ix, fy: y - iy };
}

/**
 * The residual's pixels that may stand out: every pixel of the disk's rows (the spans
 * dieToDieResidual writes) whose |residual| was at least `limit` when it was written, and maybe
 * a few more (the kernel compares in float32 against a bound at or below `limit`), as map
 * indices in ascending order. The later passes that look only at pixels over a bound of at
 * least `limit` (boundInterpolationError's gate, the footprints' candidates) read this list
 * instead of the whole disk, each testing its own bound on the values as they are then; that is
 * exact as long as no pass in between raises a pixel's |residual|.
 */
export class StandingOut {
  readonly limit: number;
  readonly region: DiskRegion;
  readonly width: number;
  /** Indices 0..count - 1 hold the list (the array is kept between wafers and may be longer). */
  indices: Int32Array;
  count = 0;
  constructor(limit: number, region: DiskRegion, width: number) {
    this.limit = limit;
    this.region = region;
    this.width = width;
    this.indices = standingBuffer;
  }

  add(at: number): void {
    if (this.count === this.indices.length) this.grow(this.count + 1);
    this.indices[this.count++] = at;
  }

  addAll(list: Int32Array): void {
    if (this.count + list.length > this.indices.length) this.grow(this.count + list.length);
    this.indices.set(list, this.count);
    this.count += list.length;
  }

  /** Whether this list serves a pass over `region` of a `width` px map for values >= bound. */
  serves(region: DiskRegion, width: number, bound: number): boolean {
    return (
      bound >= this.limit &&
      width === this.width &&
      region.cx === this.region.cx &&
      region.cy === this.region.cy &&
      region.r === this.region.r
    );
  }

  private grow(needed: number): void {
    const grown = new Int32Array(Math.max(needed, 2 * this.indices.length));
    grown.set(this.indices.subarray(0, this.count));
    this.indices = grown;
    standingBuffer = grown;
  }
}

/** StandingOut's indices, kept between wafers (a few thousand per wafer). */
let standingBuffer = new Int32Array(4096);

/** The largest float32 at or below x (x finite and positive): the kernel's bound for `limit`. */
export function float32AtMost(x: number): number {
  const f = Math.fround(x);
  if (f <= x) return f;
  const bits = new Float32Array([f]);
  const word = new Int32Array(bits.buffer);
  word[0] = (word[0] as number) - 1;
  return bits[0] as number;
}

// The per-direction allowance the residual applies, for tools that rebuild it (bench/false-alarm-trace.ts).
export {
  extrapolationMisregistrationShare,
  pairMisregistrationShare,
} from "./die-to-die-allowance.ts";
export { useKernels as useResidualKernel } from "./kernel.ts";

/**
 * The references' shift tables for a map `width` wide, interleaved +d, -d per direction
 * (a, b, a + b, a - b): one die away (shiftX/Y, offsets, fxs, fys) and two (the x2 tables, for
 * the rim ring's two-die extrapolation), with each direction's allowance shares. One builder
 * for the residual and for the passes that rebuild a rim-ring pixel after it
 * (die-to-die-rim-interpolation.ts), so both read the same samples.
 */
export function referenceShifts(a: Vector, b: Vector, width: number) {
  const dirs: Vector[] = [a, b, { x: a.x + b.x, y: a.y + b.y }, { x: a.x - b.x, y: a.y - b.y }];
  const shares = Float64Array.from(dirs, pairMisregistrationShare);
  const extrapolationShares = Float64Array.from(dirs, extrapolationMisregistrationShare);
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
  const shiftX2 = shiftX.map((v) => 2 * v);
  const shiftY2 = shiftY.map((v) => 2 * v);
  return {
    shares,
    extrapolationShares,
    shiftX,
    shiftY,
    shiftX2,
    shiftY2,
    offsets,
    fxs,
    fys,
    offsets2,
    fxs2,
    fys2,
  };
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
  /**
   * When given (finite and positive), the pixels whose |residual| is at least this are listed
   * as they are written (StandingOut), and the list returned.
   */
  listLimit?: number,
): StandingOut | undefined {
  const { width, height, data } = map;
  const shifts = referenceShifts(a, b, width);
  const {
    shares,
    extrapolationShares,
    shiftX,
    shiftY,
    shiftX2,
    shiftY2,
    offsets,
    fxs,
    fys,
    offsets2,
    fxs2,
    fys2,
  } = shifts;
  const { cx, cy, r } = region;
  const validR = waferRadius - 1.5;
  const intervals = referenceIntervals(shifts, cx, cy, waferRadius, width, height);
  const { lower, upper, lower2, upper2 } = intervals;
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
  frame?.setParameters(
    fxs,
    fys,
    shares,
    noiseSigma,
    offsets,
    fxs2,
    fys2,
    offsets2,
    extrapolationShares,
  );
  const yLast = Math.min(height - 1, Math.floor(cy + r));
  const listed =
    listLimit !== undefined && Number.isFinite(listLimit) && listLimit > 0
      ? new StandingOut(listLimit, region, width)
      : undefined;
  const listBound = listed ? float32AtMost(listLimit as number) : 0;
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
    intervals.forRow(y);
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
        frame.row(y * width, span, intervals, out, edgeMask, edgeGain);
        if (listed) listed.addAll(frame.listAtLeast(y * width, x0, x1, listBound));
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
        rimRingDirections(x, lower, upper, lower2, upper2),
        shares,
        extrapolationShares,
      );
    }
    if (listed)
      for (let at = y * width + x0, end = y * width + x1; at <= end; at++)
        if (Math.abs(out[at] as number) >= listBound) listed.add(at);
  }
  return listed;
}

/**
 * One row at a time: the x runs over which each reference one die away (lower, upper) and two
 * dies away (lower2, upper2) lands on the wafer less 1.5 px (rowIntervals for both shift sets);
 * the residual, the ring's interpolation-error pass and the kernel read the same four arrays.
 */
export function referenceIntervals(
  { shiftX, shiftY, shiftX2, shiftY2 }: ReturnType<typeof referenceShifts>,
  cx: number,
  cy: number,
  /** The wafer's radius in map px: a reference counts as on the wafer 1.5 px inside it. */
  waferRadius: number,
  width: number,
  height: number,
) {
  const validR = waferRadius - 1.5;
  const validR2 = validR * validR;
  const lower = new Int32Array(8);
  const upper = new Int32Array(8);
  const lower2 = new Int32Array(8);
  const upper2 = new Int32Array(8);
  return {
    lower,
    upper,
    lower2,
    upper2,
    /** Sets the four arrays for row y. */
    forRow(y: number): void {
      rowIntervals(y, shiftX, shiftY, cx, cy, validR2, width, height, lower, upper);
      rowIntervals(y, shiftX2, shiftY2, cx, cy, validR2, width, height, lower2, upper2);
    },
  };
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
