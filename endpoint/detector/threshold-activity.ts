// Pattern activity for the detection thresholds: the 3x3 range at the same die position one die away, read or computed.

import { kernelLayout } from "./kernel.ts";
import type { FloatMap } from "./raster.ts";
import type { PatternAwareSigma } from "./threshold.ts";

/**
 * range3x3 of the pixels [from, to) (whole rows), held exactly as float32 (activityMap checks
 * that it is); range3x3 itself answers for any other pixel.
 */
export interface ActivityMap {
  range: Float32Array;
  from: number;
  to: number;
}

function range3x3(data: Float32Array, width: number, i: number): number {
  // The nine values in the order of a row-by-row walk (min and max do not depend on it).
  const up = i - width;
  const down = i + width;
  const a0 = data[up - 1] as number;
  const a1 = data[up] as number;
  const a2 = data[up + 1] as number;
  const b0 = data[i - 1] as number;
  const b1 = data[i] as number;
  const b2 = data[i + 1] as number;
  const c0 = data[down - 1] as number;
  const c1 = data[down] as number;
  const c2 = data[down + 1] as number;
  let lo = b1;
  let hi = b1;
  if (a0 < lo) lo = a0;
  if (a0 > hi) hi = a0;
  if (a1 < lo) lo = a1;
  if (a1 > hi) hi = a1;
  if (a2 < lo) lo = a2;
  if (a2 > hi) hi = a2;
  if (b0 < lo) lo = b0;
  if (b0 > hi) hi = b0;
  if (b2 < lo) lo = b2;
  if (b2 > hi) hi = b2;
  if (c0 < lo) lo = c0;
  if (c0 > hi) hi = c0;
  if (c1 < lo) lo = c1;
  if (c1 > hi) hi = c1;
  if (c2 < lo) lo = c2;
  if (c2 > hi) hi = c2;
  return hi - lo;
}

/**
 * Pattern activity at pixel i: the 3x3 range at the same die position in the two neighbour
 * dies along a, the smaller of the two. Measured on the neighbours so that a defect at i
 * does not raise its own threshold, and the smaller one so that a defect there does not either.
 */
export function patternActivity(model: PatternAwareSigma, i: number): number {
  if (model.neighbourOffset === 0) return 0;
  const { data, width } = model.map;
  const size = data.length - width - 1;
  const held = model.activity;
  // A view of the kernel's memory reads as empty once detached: then range3x3 again.
  const map = held && held.range.length === data.length ? held : NO_ACTIVITY_MAP;
  return smallerRange(
    rangeAt(data, width, size, map, i + model.neighbourOffset),
    rangeAt(data, width, size, map, i - model.neighbourOffset),
  );
}

/** Stands for "no activity map": it holds no pixel, so every range is computed. */
const NO_ACTIVITY_MAP: ActivityMap = { range: new Float32Array(0), from: 0, to: 0 };

/**
 * The 3x3 range at pixel j: read from the activity map where it holds j, else computed; +Infinity
 * off the map's interior (no neighbour die there).
 */
export function rangeAt(
  data: Float32Array,
  width: number,
  size: number,
  map: ActivityMap,
  j: number,
): number {
  if (!(j > width && j < size)) return Number.POSITIVE_INFINITY;
  return j >= map.from && j < map.to ? (map.range[j] as number) : range3x3(data, width, j);
}

/** Pattern activity from the two neighbours' ranges: the smaller, 0 where neither die exists. */
export function smallerRange(a: number, b: number): number {
  const m = Math.min(a, b);
  return Number.isFinite(m) ? m : 0;
}

/**
 * patternActivity(model, i) as a closure with the model's fields read once: the same reads in
 * the same order, so the same values. The thresholds ask it at every sample of the score tail
 * and every pixel segmentation tests (tens of thousands per wafer), where walking the model's
 * fields each time cost more than the activity itself.
 */
export function activityReader(model: PatternAwareSigma): (i: number) => number {
  const offset = model.neighbourOffset;
  if (offset === 0) return () => 0;
  const { data, width } = model.map;
  const size = data.length - width - 1;
  const held = model.activity;
  if (!held) return (i) => patternActivity(model, i);
  return (i) => {
    // A view of the kernel's memory reads as empty once detached: then range3x3 again.
    if (held.range.length !== data.length) return patternActivity(model, i);
    return smallerRange(
      rangeAt(data, width, size, held, i + offset),
      rangeAt(data, width, size, held, i - offset),
    );
  };
}

/**
 * range3x3 at every pixel of the map, through the WebAssembly kernel (kernel.ts): 3x3 max and
 * min in two separable f32x4 passes over flat pixel indices, which is how range3x3 reads its
 * block (a row's last pixel neighbours the next row's first), then max - min in float32. It
 * is kept only when every such float32 equals the double max - min range3x3 computes (the
 * kernel checks each pixel; a working map of binned integer levels passes), else
 * null. Both take the same extremes, and where they may differ, a +0 against a -0 as max or
 * min, the difference has the same bits (x - (+0) = x - (-0) for x != 0, and +0 when both
 * are zeros; the kernel's pmax / pmin, see die-to-die.wat); a NaN read refuses the map. Rows 1 .. height - 2 are filled, or those of `rows`
 * among them (the readers take range3x3 for any other pixel: the rows only decide speed). The
 * map is a view of the kernel's memory where the die-to-die stage kept its
 * smoothed map, free by the threshold stage: it holds until the next detection's die-to-die
 * stage (or a grow, which empties the view; patternActivity then takes range3x3 again).
 * Null without the kernel or on a map under 3 x 3.
 */
export function activityMap(
  map: FloatMap,
  /** Rows [first, end) worth holding (those the thresholds read); all when not given. */
  rows?: { first: number; end: number },
): ActivityMap | null {
  const { width, height, data } = map;
  if (width < 3 || height < 3) return null;
  const first = Math.max(1, Math.floor(rows?.first ?? 1));
  const end = Math.min(height - 1, Math.ceil(rows?.end ?? height - 1));
  if (end <= first) return null;
  const layout = kernelLayout(width, height);
  if (!layout) return null;
  const { kernel, buffer, dataOffset, blurOffset, rowBytes } = layout;
  const size = width * height;
  // The source row and its neighbours in flat order: pixels y * width - 1 .. y * width + width;
  // the padding the four-wide passes read past it is zero.
  const padded = new Float32Array(buffer, blurOffset, rowBytes / 4);
  padded.fill(0, width + 2);
  const source = padded.subarray(0, width + 2);
  const hiRow = (y: number) => blurOffset + (1 + (y % 3)) * rowBytes;
  const loRow = (y: number) => blurOffset + (4 + (y % 3)) * rowBytes;
  let exact = 1;
  const rowPass = (y: number): void => {
    const from = y * width - 1;
    if (from >= 0 && from + width + 2 <= size) source.set(data.subarray(from, from + width + 2));
    // Past the frame's first or last pixel (only for outputs never read): the nearest pixel.
    else
      for (let k = 0; k < width + 2; k++)
        source[k] = data[Math.min(size - 1, Math.max(0, from + k))] as number;
    exact &= kernel.rangeRow(blurOffset, hiRow(y), loRow(y), width);
  };
  rowPass(first - 1);
  rowPass(first);
  for (let y = first; y < end; y++) {
    rowPass(y + 1);
    exact &= kernel.rangeColumns(
      hiRow(y - 1),
      hiRow(y),
      hiRow(y + 1),
      loRow(y - 1),
      loRow(y),
      loRow(y + 1),
      dataOffset + 4 * y * width,
      width,
    );
  }
  return exact
    ? { range: new Float32Array(buffer, dataOffset, size), from: first * width, to: end * width }
    : null;
}
