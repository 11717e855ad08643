// Projection profiles of the disk's pixels: the die grid's orientation (the sharpest street projections) and each axis' street phase.
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";

/** Phase (map px from the centre along `unit`) of the darkest line of a period-`pitch` profile. */
export function streetPhase(points: PointSet, unit: Vector, pitch: number): number {
  const bins = 64;
  const sums = new Float64Array(bins);
  const counts = new Float64Array(bins);
  const ux = unit.x / pitch;
  const uy = unit.y / pitch;
  const { dx, dy, value } = points;
  for (let i = 0; i < value.length; i++) {
    const t = (dx[i] as number) * ux + (dy[i] as number) * uy;
    const k = Math.min(bins - 1, Math.floor((t - Math.floor(t)) * bins));
    sums[k] = (sums[k] as number) + (value[i] as number);
    counts[k] = (counts[k] as number) + 1;
  }
  let bestK = 0;
  let bestValue = Number.POSITIVE_INFINITY;
  for (let k = 0; k < bins; k++) {
    // A 3-bin circular average steadies the minimum against noise.
    let s = 0;
    let c = 0;
    for (const j of [k - 1, k, k + 1]) {
      const jj = (j + bins) % bins;
      s += sums[jj] as number;
      c += counts[jj] as number;
    }
    const mean = c > 0 ? s / c : Number.POSITIVE_INFINITY;
    if (mean < bestValue) {
      bestValue = mean;
      bestK = k;
    }
  }
  return ((bestK + 0.5) / bins) * pitch;
}

/** Disk pixels on a sparse grid, as offsets from the centre with their values. */
export interface PointSet {
  dx: Float32Array;
  dy: Float32Array;
  value: Float32Array;
}

/**
 * Disk pixels on a grid of `stride` px cells, as offsets from the centre with their values:
 * the cell's corner, or with `scattered` a pixel of the cell picked by additive recurrences
 * with irrational steps (as samplePoints does), so that on a grid turned by a whole number of
 * degrees the points still fill every bin of a projection instead of every stride-th one.
 */
export function diskPoints(
  map: FloatMap,
  region: DiskRegion,
  stride: number,
  scattered = false,
): PointSet {
  // The disk fills pi/4 of its bounding square; a little slack covers rounding at the rim.
  const capacity = Math.ceil(0.8 * ((2 * region.r) / stride + 2) ** 2) + 64;
  const dx = new Float32Array(capacity);
  const dy = new Float32Array(capacity);
  const value = new Float32Array(capacity);
  const r2 = region.r * region.r;
  let n = 0;
  let cell = 0;
  const yEnd = Math.min(map.height, region.cy + region.r);
  const xEnd = Math.min(map.width, region.cx + region.r);
  // The last whole pixel before each end: a scattered pick stays on a pixel of the frame.
  const xLast = Math.ceil(xEnd) - 1;
  const yLast = Math.ceil(yEnd) - 1;
  const yFrom = Math.max(0, Math.ceil(region.cy - region.r));
  const xFrom = Math.max(0, Math.ceil(region.cx - region.r));
  // The scattered picks' offsets by cell number, worked out once per process (scatterTable).
  const picks = scattered
    ? scatterTable(
        stride,
        Math.ceil((yEnd - yFrom) / stride) * Math.ceil((xEnd - xFrom) / stride) + 1,
      )
    : null;
  for (let gy = yFrom; gy < yEnd; gy += stride) {
    for (let gx = xFrom; gx < xEnd; gx += stride) {
      let x = gx;
      let y = gy;
      if (picks) {
        cell++;
        x = Math.min(xLast, gx + (picks[2 * cell] as number));
        y = Math.min(yLast, gy + (picks[2 * cell + 1] as number));
      }
      const ox = x - region.cx;
      const oy = y - region.cy;
      if (ox * ox + oy * oy > r2 || n >= capacity) continue;
      dx[n] = ox;
      dy[n] = oy;
      value[n] = map.data[y * map.width + x] as number;
      n++;
    }
  }
  return { dx: dx.subarray(0, n), dy: dy.subarray(0, n), value: value.subarray(0, n) };
}

/**
 * Per stride, the scattered picks' offsets of cells 0, 1, 2, ... (x then y, whole pixels in
 * [0, stride)): floor(frac(cell phi) stride) with phi the additive recurrences' steps, the same
 * expressions diskPoints evaluated per cell, so the same whole numbers. A wafer's cells are
 * numbered from 1 in the same order at every size, so one table, grown to the most cells seen,
 * serves every detection.
 */
const scatterTables = new Map<number, Uint8Array | Int32Array>();

/** A byte per offset for the strides the lattice uses (offsets below 256): a quarter of the memory. */
function scatterTable(stride: number, cells: number): Uint8Array | Int32Array {
  const known = scatterTables.get(stride);
  if (known && known.length >= 2 * cells) return known;
  const length = 2 * Math.max(cells, 1024);
  const table = stride <= 256 ? new Uint8Array(length) : new Int32Array(length);
  for (let cell = 0; cell < table.length / 2; cell++) {
    const tx = cell * 0.6180339887498949;
    const ty = cell * 0.7548776662466927;
    table[2 * cell] = Math.floor((tx - Math.floor(tx)) * stride);
    table[2 * cell + 1] = Math.floor((ty - Math.floor(ty)) * stride);
  }
  scatterTables.set(stride, table);
  return table;
}

/** Variance of the bin means of one projection profile (empty bins left out). */
function profileVariance(sums: Float64Array, counts: Float64Array): number {
  let s = 0;
  let s2 = 0;
  let n = 0;
  for (let k = 0; k < sums.length; k++) {
    const count = counts[k] as number;
    if (count === 0) continue;
    const v = (sums[k] as number) / count;
    s += v;
    s2 += v * v;
    n++;
  }
  return n > 0 ? s2 / n - (s / n) ** 2 : 0;
}

/**
 * Variance of the projection profile along `angle` (bins of `binPx`), plus the same along
 * angle + 90 degrees: largest when the projections run exactly along both street families.
 * Both profiles are binned in one pass over the points (each point read once, not twice);
 * each profile's bins add the same values in the same order as a pass of its own would.
 */
function gridSharpness(points: PointSet, radius: number, angle: number, binPx: number): number {
  const bins = Math.ceil((2 * radius) / binPx) + 2;
  const sumsA = new Float64Array(bins);
  const countsA = new Float64Array(bins);
  const sumsB = new Float64Array(bins);
  const countsB = new Float64Array(bins);
  const ca = Math.cos(angle) / binPx;
  const sa = Math.sin(angle) / binPx;
  const turned = angle + Math.PI / 2;
  const cb = Math.cos(turned) / binPx;
  const sb = Math.sin(turned) / binPx;
  const offset = radius / binPx;
  const { dx, dy, value } = points;
  for (let i = 0; i < value.length; i++) {
    const x = dx[i] as number;
    const y = dy[i] as number;
    const v = value[i] as number;
    const ka = Math.floor(x * ca + y * sa + offset);
    sumsA[ka] = (sumsA[ka] as number) + v;
    countsA[ka] = (countsA[ka] as number) + 1;
    const kb = Math.floor(x * cb + y * sb + offset);
    sumsB[kb] = (sumsB[kb] as number) + v;
    countsB[kb] = (countsB[kb] as number) + 1;
  }
  return profileVariance(sumsA, countsA) + profileVariance(sumsB, countsB);
}

/**
 * The points the orientation is measured on: one scattered pixel per 8 x 8 cell, about 13,000 on
 * a 1024 px map, a few dozen per 2 px bin of the projection profiles.
 */
export function orientationPoints(map: FloatMap, region: DiskRegion): PointSet {
  return diskPoints(map, region, 8, true);
}

/**
 * Angle (mod 90 degrees) at which street projections are sharpest. With a prior (the grid
 * turns with the notch) only a few degrees around it are searched; without one, the whole
 * quadrant is scanned coarsely first. Gradient-orientation estimates would be cheaper but
 * pixel staircases on turned grids fool them.
 */
export function gridOrientation(
  map: FloatMap,
  region: DiskRegion,
  prior?: number,
  points: PointSet = orientationPoints(map, region),
): number {
  // The projections only have to peak within a step of the sharpest angle. The last pass's
  // peak is placed between its neighbours by a parabola; what is left (hundredths of a degree,
  // 0.05 degrees being 0.1 px across a 100 px pitch) is the sub-pixel refinement of each
  // vector, which moves both coordinates.
  const passes: Array<[number, number]> =
    prior === undefined
      ? [
          [45, 1],
          [1, 0.25],
        ]
      : [[2, 0.25]];
  let best = prior ?? 0;
  for (const [span, step] of passes) {
    const centre = best;
    const values: number[] = [];
    let bestIndex = 0;
    for (let d = -span; d < span + 1e-9; d += step) {
      // Both street families must line up at once.
      const value = gridSharpness(points, region.r, centre + (d * Math.PI) / 180, 2);
      if (value > (values[bestIndex] ?? Number.NEGATIVE_INFINITY)) bestIndex = values.length;
      values.push(value);
    }
    const peak = values[bestIndex] as number;
    const left = values[bestIndex - 1];
    const right = values[bestIndex + 1];
    const curvature = left === undefined || right === undefined ? 0 : left - 2 * peak + right;
    const offset =
      left !== undefined && right !== undefined && curvature < 0
        ? Math.max(-0.5, Math.min(0.5, (0.5 * (left - right)) / curvature))
        : 0;
    best = centre + ((-span + (bestIndex + offset) * step) * Math.PI) / 180;
  }
  return best;
}

/**
 * One small call of each projection at load (the answers are not used), so that every line of
 * them has run before a wafer's first call: V8 compiles a long loop while the first large call
 * is still inside it, and a line after the loop that had never run then left the compiled code
 * for the interpreter at every later call too (measured: gridSharpness about once per patterned
 * detection, streetPhase and the table's build now and then).
 */
function primeTypeFeedback(): void {
  const side = 24;
  const data = new Float32Array(side * side);
  for (let i = 0; i < data.length; i++) data[i] = (i % 7) + (i % 5);
  const map: FloatMap = { width: side, height: side, scale: 1, data };
  const region: DiskRegion = { cx: side / 2, cy: side / 2, r: side / 2 - 2 };
  const points = diskPoints(map, region, 2, true);
  gridOrientation(map, region, 0, points);
  streetPhase(points, { x: 1, y: 0 }, 5);
}

primeTypeFeedback();
