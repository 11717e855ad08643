// The footprints the allowance may have cut: local maxima of |residual| inside the disk, by a walk over its rows or from the die-to-die residual's list of pixels that stand out.

import type { StandingOut } from "./die-to-die.ts";
import { HALF } from "./die-to-die-footprint-reader.ts";
import type { DiskRegion } from "./noise.ts";
import { PAIR_DIFFERENCE_GAIN } from "./noise.ts";
import { FOOTPRINT_FLUX } from "./thresholds.ts";

/** Whether every reference of the 7x7 window around (x, y) is a pair average on the wafer. */
export function windowInside(
  x: number,
  y: number,
  width: number,
  edgeMask: Uint8Array,
  region: DiskRegion,
): boolean {
  const reach = region.r - HALF * Math.SQRT2 - 1;
  if ((x - region.cx) ** 2 + (y - region.cy) ** 2 > reach * reach) return false;
  for (const dy of [-HALF, HALF])
    for (const dx of [-HALF, HALF]) if (edgeMask[(y + dy) * width + x + dx] !== 0) return false;
  return edgeMask[y * width + x] === 0;
}

/**
 * Pixels of rows y0..y1 inside the disk (and HALF + 1 from the map's sides) whose |residual| is
 * at least floor and no less than any of its 8 neighbours'. A small function of its own: the scan
 * passes every map pixel once, and V8 compiles a short loop far better than one inside a long
 * function (2.3 against 0.5 ms on a 1006 px map).
 */
export function localMaxima(
  residual: Float32Array,
  width: number,
  region: DiskRegion,
  y0: number,
  y1: number,
  floor: number,
): number[] {
  const { cx, cy, r } = region;
  const found: number[] = [];
  for (let y = y0; y <= y1; y++) {
    const dy = y - cy;
    const half = Math.sqrt(Math.max(0, r * r - dy * dy));
    const from = y * width + Math.max(HALF + 1, Math.ceil(cx - half));
    const to = y * width + Math.min(width - HALF - 2, Math.floor(cx + half));
    for (let at = from; at <= to; at++) {
      const v = residual[at] as number;
      if (v < floor && v > -floor) continue;
      if (!(Math.abs(v) >= floor)) continue;
      if (noNeighbourAbove(residual, width, at, Math.abs(v))) found.push(at);
    }
  }
  return found;
}

/** Whether no pixel of the 3x3 neighbourhood of `at` reads a larger |residual| than m. */
function noNeighbourAbove(residual: Float32Array, width: number, at: number, m: number): boolean {
  for (let j = -width; j <= width; j += width)
    for (let i = -1; i <= 1; i++) if (Math.abs(residual[at + j + i] as number) > m) return false;
  return true;
}

/**
 * localMaxima's answer from dieToDieResidual's list: the list holds, ascending, every pixel of
 * the disk's rows (a superset of localMaxima's spans, which keep HALF + 1 from the map's
 * sides) whose |residual| reaches the list's limit (at most floor), so localMaxima's pixels
 * are those of the list inside its spans that pass the same tests, in the same order.
 */
export function localMaximaAmong(
  standing: StandingOut,
  residual: Float32Array,
  width: number,
  region: DiskRegion,
  y0: number,
  y1: number,
  floor: number,
): number[] {
  const { cx, cy, r } = region;
  const { indices, count } = standing;
  const found: number[] = [];
  let row = -1;
  let from = 0;
  let to = -1;
  for (let n = 0; n < count; n++) {
    const at = indices[n] as number;
    const v = residual[at] as number;
    if (!(Math.abs(v) >= floor)) continue;
    const y = Math.floor(at / width);
    if (y !== row) {
      // localMaxima's span of row y (none outside y0..y1).
      row = y;
      const dy = y - cy;
      const half = Math.sqrt(Math.max(0, r * r - dy * dy));
      from = y * width + Math.max(HALF + 1, Math.ceil(cx - half));
      to = y < y0 || y > y1 ? -1 : y * width + Math.min(width - HALF - 2, Math.floor(cx + half));
    }
    if (at < from || at > to) continue;
    if (noNeighbourAbove(residual, width, at, Math.abs(v))) found.push(at);
  }
  return found;
}

/** The footprints' candidate floor: FOOTPRINT_FLUX.candidateSigmas pair-difference sigmas. */
export function candidateFloor(sigma: number): number {
  return FOOTPRINT_FLUX.candidateSigmas * PAIR_DIFFERENCE_GAIN * sigma;
}
