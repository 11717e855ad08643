// The die-to-die kernel's memory laid out for one map (die-to-die.wat): its parameters, cell-range ring and output rows, and the map it compares.
import { MISREGISTRATION_SHARE } from "./die-to-die-allowance.ts";
import { EDGE_GAIN_TABLE } from "./die-to-die-rim-ring.ts";
import { type Kernel, kernelLayout, PARAMETER_BYTES } from "./kernel.ts";
import type { FloatMap } from "./raster.ts";

export interface KernelFrame {
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
    /** Per direction, a two-die extrapolation's share (extrapolationMisregistrationShare). */
    extrapolationShares: Float64Array,
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
  /**
   * The map indices base + x of the last `row`'s pixels x0..x1 whose residual's magnitude is at
   * least the float32 `limit`, ascending (a view of the kernel's memory, valid until the next call).
   */
  listAtLeast(base: number, x0: number, x1: number, limit: number): Int32Array;
}

/**
 * The kernel's memory laid out for a width x height map (kernel.ts), with views of its
 * parameters and output row, or null when the JavaScript path runs.
 */
function kernelFrame(width: number, height: number): KernelFrame | null {
  const layout = kernelLayout(width, height);
  if (!layout) return null;
  const {
    kernel,
    buffer,
    dataOffset,
    ringOffset,
    outOffset,
    maskOffset,
    gainOffset,
    listOffset,
    rowsOffset,
  } = layout;
  const size = width * height;
  const doubles = new Float64Array(buffer, 0, PARAMETER_BYTES / 8);
  const integers = new Int32Array(buffer, 0, PARAMETER_BYTES / 4);
  const outRow = new Float32Array(buffer, outOffset, width + 16);
  const maskRow = new Uint8Array(buffer, maskOffset, width + 16);
  const gainRow = new Uint8Array(buffer, gainOffset, width + 16);
  const listRow = new Int32Array(buffer, listOffset, width + 16);
  return {
    kernel,
    dataOffset,
    ringOffset,
    data: () => new Float32Array(buffer, dataOffset, size),
    ring: (length) => new Float32Array(buffer, ringOffset, length),
    setParameters(
      fxs,
      fys,
      shares,
      noiseSigma,
      offsets,
      fxs2,
      fys2,
      offsets2,
      extrapolationShares,
    ) {
      doubles.set(fxs, 0);
      doubles.set(fys, 8);
      doubles.set(shares, 16);
      doubles[20] = noiseSigma;
      doubles[21] = MISREGISTRATION_SHARE;
      integers.set(offsets, 48);
      doubles.set(fxs2, 32);
      doubles.set(fys2, 40);
      integers.set(offsets2, 96);
      // Byte 992 (die-to-die.wat).
      doubles.set(extrapolationShares, 124);
      new Uint8Array(buffer, 576, EDGE_GAIN_TABLE.length).set(EDGE_GAIN_TABLE);
      // No row of this map has run `interior` yet: its kept interpolations are not this map's
      // (byte 176, die-to-die.wat).
      integers[44] = -2147483648;
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
        rowsOffset,
      );
      out.set(outRow.subarray(x0, x1 + 1), base + x0);
      mask?.set(maskRow.subarray(x0, x1 + 1), base + x0);
      gain?.set(gainRow.subarray(x0, x1 + 1), base + x0);
    },
    listAtLeast(base, x0, x1, limit) {
      return listRow.subarray(0, kernel.listAtLeast(outOffset, x0, x1, limit, base, listOffset));
    },
  };
}

/**
 * The kernel's frame holding `map`, or null when the JavaScript path runs. The kernel reads the
 * map from its own memory: the stage smooths straight into it (comparisonBuffer); any other
 * map is copied in. Its interior assumes finite values (die-to-die.wat): a map holding a NaN
 * or an infinity (no decoded image does) takes the JavaScript path, with the same results.
 */
export function kernelFrameFor(map: FloatMap): KernelFrame | null {
  const { width, height, data } = map;
  const frame = kernelFrame(width, height);
  if (!frame) return null;
  const inside = frame.data();
  if (!(data.buffer === inside.buffer && data.byteOffset === inside.byteOffset)) inside.set(data);
  return frame.kernel.allFinite(frame.dataOffset, width * height) ? frame : null;
}

/**
 * A width x height buffer for the smoothed map the residual compares: inside the kernel's
 * memory when it runs (then dieToDieResidual reads it in place; valid until the next call of
 * this or of dieToDieResidual for a larger map), else a new array.
 */
export function comparisonBuffer(width: number, height: number): Float32Array {
  return kernelFrame(width, height)?.data() ?? new Float32Array(width * height);
}
