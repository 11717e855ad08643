// The detector's WebAssembly SIMD kernels (die-to-die.wat): loading them, and the memory they work in.
import { KERNEL_BASE64 } from "./die-to-die-kernel.ts";
import { instantiateKernel, type KernelMemory, memoryOfAtLeast } from "./wasm-module.ts";

/**
 * The kernels (die-to-die.wat, assembled into die-to-die-kernel.ts by npm run build:wasm): the
 * die-to-die residual's interior and rim ring (a whole row per call: `row`), its cell ranges,
 * and binomial smoothing, each the same IEEE operations in the same order and precision as its
 * JavaScript version, two (four) pixels per instruction, so the same bits. The residual's
 * kernels run on finite maps only (`allFinite`; their min and max are then single
 * instructions, with the same values). The JavaScript stays as the reference and the path
 * where WebAssembly SIMD is missing or the map holds a NaN or an infinity.
 */
export interface Kernel extends KernelMemory {
  interior(
    dataOffset: number,
    ringOffset: number,
    outOffset: number,
    width: number,
    first: number,
    last: number,
    base: number,
    rowsOffset: number,
  ): void;
  edge(
    dataOffset: number,
    ringOffset: number,
    outOffset: number,
    width: number,
    first: number,
    last: number,
    mode0: number,
    mode1: number,
    mode2: number,
    mode3: number,
    useSecond: number,
    /** 1 for two pairs and their one-sided veto (edgePixel's VETO_BIT, vetoAbstains). */
    veto: number,
    /** 1 where two or more pairs decide (PAIRS_DECIDE_BIT): two-die extrapolations take their own share. */
    pairsDecide: number,
  ): void;
  row(
    dataOffset: number,
    ringOffset: number,
    outOffset: number,
    maskOffset: number,
    gainOffset: number,
    width: number,
    base: number,
    x0: number,
    x1: number,
    runFrom: number,
    runTo: number,
    rowsOffset: number,
  ): void;
  cellRanges(top: number, width: number, into: number, count: number): void;
  /** 1 when the count float32 values at byte offset `at` are all finite, else 0. */
  allFinite(at: number, count: number): number;
  /**
   * Writes base + x for the row's x0..x1 (float32 at rowPtr) whose magnitude is at least the
   * float32 `limit` to listPtr (i32, ascending); returns how many.
   */
  listAtLeast(
    rowPtr: number,
    x0: number,
    x1: number,
    limit: number,
    base: number,
    listPtr: number,
  ): number;
  blurRow(src: number, dst: number, width: number): void;
  blurColumns(above: number, current: number, below: number, dst: number, width: number): void;
  /** 0 when a value it reads is NaN (its max and min may then have dropped it), else 1. */
  rangeRow(src: number, hi: number, lo: number, width: number): number;
  rangeColumns(
    hiAbove: number,
    hiCurrent: number,
    hiBelow: number,
    loAbove: number,
    loCurrent: number,
    loBelow: number,
    range: number,
    width: number,
  ): number;
  /** The lattice search's lag costs (lattice-shift-cost.ts lagSumsInKernel): sums per lag, two lags a step. */
  lagCosts(
    dataPtr: number,
    width: number,
    pointsPtr: number,
    count: number,
    shiftsPtr: number,
    pairs: number,
    sumsPtr: number,
  ): void;
  /** The die-to-die noise's differences of its grid (noise.ts), or -1 when one is NaN. */
  dieDifferences(
    dataPtr: number,
    lag: number,
    rowsPtr: number,
    rowCount: number,
    columnsPtr: number,
    outPtr: number,
  ): number;
  /** The die-to-die noise's range gate: keeps the passing differences in place, returns their count. */
  dieDifferenceGate(
    dataPtr: number,
    lag: number,
    rowsPtr: number,
    rowCount: number,
    columnsPtr: number,
    diffsPtr: number,
    profilePtr: number,
    profileLength: number,
    gate: number,
  ): number;
}

/** Bytes 0..1023 of the memory: the residual kernels' parameters (layout in die-to-die.wat). */
export const PARAMETER_BYTES = 1024;
let loaded: Kernel | null | undefined;
let enabled = true;

/**
 * Turns the WebAssembly kernels off (false) or back on: the JavaScript paths then run, with
 * the same results; for tests and benchmarks that compare the two.
 */
export function useKernels(on: boolean): void {
  enabled = on;
}

function loadKernel(): Kernel | null {
  if (loaded !== undefined) return loaded;
  // A runtime without SIMD cannot validate it: the JavaScript paths do the same work.
  loaded = instantiateKernel<Kernel>(KERNEL_BASE64);
  return loaded;
}

export interface KernelLayout {
  kernel: Kernel;
  buffer: ArrayBuffer;
  /** The map the residual compares (width x height floats). */
  dataOffset: number;
  /** The residual's ring of cell ranges (at most as many rows as the map). */
  ringOffset: number;
  /** One output row of the residual kernels. */
  outOffset: number;
  /** One row of the residual's edge mask (bytes), then one of its edge gain (`row`). */
  maskOffset: number;
  gainOffset: number;
  /**
   * Rows for binomial smoothing (three smoothed rows, a source row, an output row) and for
   * the pattern-activity maps (a source row, three rows of max, three of min): seven.
   */
  blurOffset: number;
  /** Room for one row's map indices (listAtLeast's output). */
  listOffset: number;
  /** Eight rows of doubles (width + 16 each): `interior`'s bottom interpolations per shift. */
  rowsOffset: number;
  /** Bytes per row of each region (room for a pixel past the row: kernels run in pairs). */
  rowBytes: number;
}

/**
 * The kernels' memory laid out for a width x height map, grown if needed and kept (like
 * detect's frame buffers). A grow detaches every earlier view of the memory, so views are
 * taken after this call, and a view handed out stays valid until a call for a larger map.
 * Room is kept past the map and the ring, since a kernel may read a pixel past a run.
 */
export function kernelLayout(width: number, height: number): KernelLayout | null {
  const kernel = enabled ? loadKernel() : null;
  if (!kernel) return null;
  const offsets = layoutOffsets(width, height);
  return { kernel, buffer: memoryOfAtLeast(kernel, offsets.needed), ...offsets };
}

/** Where each region of kernelLayout lies for a width x height map, and the bytes it needs. */
function layoutOffsets(width: number, height: number) {
  const size = width * height;
  const rowBytes = 4 * (width + 16);
  const dataOffset = PARAMETER_BYTES;
  const ringOffset = dataOffset + 4 * size + rowBytes;
  const outOffset = ringOffset + 4 * size + rowBytes;
  const maskOffset = outOffset + rowBytes;
  const gainOffset = maskOffset + rowBytes / 2;
  const blurOffset = maskOffset + rowBytes;
  const listOffset = blurOffset + 7 * rowBytes;
  const rowsOffset = listOffset + rowBytes;
  const needed = rowsOffset + 8 * 2 * rowBytes;
  return {
    dataOffset,
    ringOffset,
    outOffset,
    maskOffset,
    gainOffset,
    blurOffset,
    listOffset,
    rowsOffset,
    rowBytes,
    needed,
  };
}

/**
 * The kernels' memory when `data` is the width x height map the residual compares, in place
 * (comparisonBuffer in die-to-die-frame.ts), else null: the region of the residual's ring of cell
 * ranges (free until the residual runs) then serves as scratch, `scratchBytes` long. Never grows
 * the memory (which would detach `data`).
 */
export function comparisonMapScratch(
  data: Float32Array,
  width: number,
  height: number,
): { kernel: Kernel; buffer: ArrayBuffer; scratchOffset: number; scratchBytes: number } | null {
  const kernel = enabled ? loadKernel() : null;
  if (!kernel) return null;
  const buffer = kernel.memory.buffer;
  const { dataOffset, ringOffset, outOffset, needed } = layoutOffsets(width, height);
  if (data.buffer !== buffer || data.byteOffset !== dataOffset || data.length !== width * height)
    return null;
  if (buffer.byteLength < needed) return null;
  // The ring's region (it ends where the output row begins).
  return { kernel, buffer, scratchOffset: ringOffset, scratchBytes: outOffset - ringOffset };
}
