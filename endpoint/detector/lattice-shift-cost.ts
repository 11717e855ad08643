// The shift cost the die-lattice search minimises: the map against itself shifted by a vector, priced on scattered sample points.
import { kernelLayout } from "./kernel.ts";
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import { type FloatMap, sampleBilinear } from "./raster.ts";

/**
 * Sample points with the map's value at each, read once: every shift compared against the
 * same points (dozens of lags, the refinement's steps) then pays one bilinear sample per point.
 */
export interface ShiftSamples {
  xs: Float64Array;
  ys: Float64Array;
  base: Float64Array;
  /** Every point lies at least this far inside the frame (samplePoints' reach). */
  reach: number;
}

export function withBaseValues(
  map: FloatMap,
  points: { xs: Float64Array; ys: Float64Array; reach: number },
): ShiftSamples {
  const { xs, ys, reach } = points;
  const base = new Float64Array(xs.length);
  // samplePoints keeps every point at least reach (>= 2) px inside the frame, where
  // sampleBilinear's clamp changes nothing: bilinearInside gives the same values.
  const clear = reach >= 0.001;
  for (let i = 0; i < xs.length; i++)
    base[i] = clear
      ? bilinearInside(map.data, map.width, xs[i] as number, ys[i] as number)
      : sampleBilinear(map.data, map.width, map.height, xs[i] as number, ys[i] as number);
  return { xs, ys, base, reach };
}

/**
 * sampleBilinear without its clamp to the frame, for points known to lie in [0, width - 1.001]
 * x [0, height - 1.001], where the clamp returns the coordinate unchanged: the same
 * arithmetic in the same order, so the same value to the last digit.
 */
function bilinearInside(data: Float32Array, width: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const i = y0 * width + x0;
  const a = data[i] as number;
  const b = data[i + 1] as number;
  const c = data[i + width] as number;
  const d = data[i + width + 1] as number;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/**
 * Whether every sample point shifted by (sx, sy) stays where sampleBilinear does not clamp:
 * points lie in [reach, side - 1 - reach), so a shift of at most reach - 0.001 per axis
 * keeps them in [0, side - 1.001].
 */
export function staysInside(samples: ShiftSamples, sx: number, sy: number): boolean {
  const limit = samples.reach - 0.001;
  return Math.abs(sx) <= limit && Math.abs(sy) <= limit;
}

/** Mean squared difference between the map and itself shifted by `v`, over sample points. */
export function shiftCost(map: FloatMap, samples: ShiftSamples, v: Vector): number {
  const { xs, ys, base } = samples;
  const { data, width, height } = map;
  let s = 0;
  if (staysInside(samples, v.x, v.y)) {
    for (let i = 0; i < xs.length; i++) {
      const d =
        (base[i] as number) -
        bilinearInside(data, width, (xs[i] as number) + v.x, (ys[i] as number) + v.y);
      s += d * d;
    }
    return s / xs.length;
  }
  for (let i = 0; i < xs.length; i++) {
    const d =
      (base[i] as number) -
      sampleBilinear(data, width, height, (xs[i] as number) + v.x, (ys[i] as number) + v.y);
    s += d * d;
  }
  return s / xs.length;
}

/**
 * shiftCost's squared differences summed per block of sample points (`block[i]` in
 * 0..blocks - 1), then, at index `blocks`, their sum over all points in point order: the sum
 * shiftCost divides, to the last digit.
 */
export function blockShiftSums(
  map: FloatMap,
  samples: ShiftSamples,
  v: Vector,
  block: Uint16Array,
  blocks: number,
): Float64Array {
  const { xs, ys, base } = samples;
  const { data, width, height } = map;
  const sums = new Float64Array(blocks + 1);
  const inside = staysInside(samples, v.x, v.y);
  let total = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = (xs[i] as number) + v.x;
    const y = (ys[i] as number) + v.y;
    const d =
      (base[i] as number) -
      (inside ? bilinearInside(data, width, x, y) : sampleBilinear(data, width, height, x, y));
    const b = block[i] as number;
    sums[b] = (sums[b] as number) + d * d;
    total += d * d;
  }
  sums[blocks] = total;
  return sums;
}

/**
 * shiftCost at every lag along `unit`, point by point: all lags of one point lie on one line
 * through it (a row, for the axis near x), so its samples stay in cache, where pricing one
 * lag at a time over all points misses the cache at nearly every point. Each lag's sum adds
 * the same terms in the same order as shiftCost, so the costs are identical.
 */
export function lagCosts(
  map: FloatMap,
  samples: ShiftSamples,
  unit: Vector,
  lags: number[],
): number[] {
  const { xs, ys, base } = samples;
  const { data, width, height } = map;
  const count = lags.length;
  const shiftX = Float64Array.from(lags, (lag) => unit.x * lag);
  const shiftY = Float64Array.from(lags, (lag) => unit.y * lag);
  const inside = lags.every((lag) => staysInside(samples, unit.x * lag, unit.y * lag));
  const inKernel = inside ? lagSumsInKernel(map, samples, shiftX, shiftY) : null;
  if (inKernel) return Array.from(inKernel, (sum) => sum / xs.length);
  const sums = new Float64Array(count);
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number;
    const y = ys[i] as number;
    const b = base[i] as number;
    if (inside) {
      for (let l = 0; l < count; l++) {
        const d =
          b - bilinearInside(data, width, x + (shiftX[l] as number), y + (shiftY[l] as number));
        sums[l] = (sums[l] as number) + d * d;
      }
      continue;
    }
    for (let l = 0; l < count; l++) {
      const d =
        b -
        sampleBilinear(data, width, height, x + (shiftX[l] as number), y + (shiftY[l] as number));
      sums[l] = (sums[l] as number) + d * d;
    }
  }
  return Array.from(sums, (sum) => sum / xs.length);
}

/**
 * lagCosts' sums (where every shifted point stays inside the map) in the WebAssembly SIMD
 * kernel (die-to-die.wat `lagCosts`), two lags per instruction: the same double operations in
 * the same order per lag, so the same sums. The map is copied to where the die-to-die stage
 * later puts its smoothed map (free until then), the points, shifts and sums into the ring
 * region after it. Null when the kernels are off or absent (the JavaScript loop then runs).
 */
function lagSumsInKernel(
  map: FloatMap,
  samples: ShiftSamples,
  shiftX: Float64Array,
  shiftY: Float64Array,
): Float64Array | null {
  const { width, height, data } = map;
  const layout = kernelLayout(width, height);
  if (!layout) return null;
  const { kernel, buffer, dataOffset, ringOffset, outOffset } = layout;
  const points = samples.xs.length;
  const pairs = Math.ceil(shiftX.length / 2);
  const pointsPtr = Math.ceil(ringOffset / 16) * 16;
  const shiftsPtr = pointsPtr + 24 * points;
  const sumsPtr = shiftsPtr + 32 * pairs;
  if (sumsPtr + 16 * pairs > outOffset) return null;
  new Float32Array(buffer, dataOffset, width * height).set(data);
  const table = new Float64Array(buffer, pointsPtr, 3 * points);
  for (let i = 0; i < points; i++) {
    table[3 * i] = samples.xs[i] as number;
    table[3 * i + 1] = samples.ys[i] as number;
    table[3 * i + 2] = samples.base[i] as number;
  }
  // Per pair of lags: its x shifts, then its y shifts; an odd count repeats the last lag.
  const shifts = new Float64Array(buffer, shiftsPtr, 4 * pairs);
  const last = shiftX.length - 1;
  for (let k = 0; k < pairs; k++) {
    const first = 2 * k;
    const second = Math.min(first + 1, last);
    shifts[4 * k] = shiftX[first] as number;
    shifts[4 * k + 1] = shiftX[second] as number;
    shifts[4 * k + 2] = shiftY[first] as number;
    shifts[4 * k + 3] = shiftY[second] as number;
  }
  const sums = new Float64Array(buffer, sumsPtr, 2 * pairs);
  sums.fill(0);
  kernel.lagCosts(dataOffset, width, pointsPtr, points, shiftsPtr, pairs, sumsPtr);
  return sums.slice(0, shiftX.length);
}

/**
 * Sample points on a sparse grid inside the disk, kept `reach` px from its edge. Each point
 * sits at a scattered sub-pixel offset: comparing two bilinear samples then costs the same
 * interpolation noise whatever the shift, so noisy images do not pull shifts towards
 * half-pixel (noise-averaging) or whole-pixel positions.
 */
export function samplePoints(
  region: DiskRegion,
  reach: number,
  target: number,
  map: { width: number; height: number },
): { xs: Float64Array; ys: Float64Array; reach: number } {
  const inner = region.r - reach;
  const step = Math.max(1, Math.floor(Math.sqrt((Math.PI * inner * inner) / target)));
  const x0 = Math.ceil(region.cx - inner);
  const y0 = Math.ceil(region.cy - inner);
  let columns = 0;
  for (let x = x0; x < region.cx + inner; x += step) columns++;
  let rows = 0;
  for (let y = y0; y < region.cy + inner; y += step) rows++;
  // Typed arrays sized for the whole grid: no growing number[] copies, no garbage.
  const xs = new Float64Array(columns * rows);
  const ys = new Float64Array(columns * rows);
  let n = 0;
  // Math.hypot is called only where the squared distance cannot settle the disk test: a
  // relative margin of 1e-9 is far wider than either rounding error, so the same points pass.
  const limit = inner - 1;
  const surelyIn = limit > 0 ? limit * limit * (1 - 1e-9) : Number.NEGATIVE_INFINITY;
  const surelyOut = limit > 0 ? limit * limit * (1 + 1e-9) : Number.POSITIVE_INFINITY;
  let i = 0;
  for (let y = y0; y < region.cy + inner; y += step) {
    for (let x = x0; x < region.cx + inner; x += step) {
      i++;
      // Additive recurrences with irrational steps spread the points over the whole grid
      // cell, deterministically: a grid step that divides the die pitch would otherwise
      // sample the same few rows of every die and never see its streets.
      // The fractional parts as t - floor(t): exact for t >= 0, as t % 1 is, without fmod.
      const tx = i * 0.6180339887498949;
      const ty = i * 0.7548776662466927;
      const px = x + (tx - Math.floor(tx)) * step;
      const py = y + (ty - Math.floor(ty)) * step;
      // The frame may clip the wafer: keep p and any p + shift (|shift| < reach) inside it.
      const inFrame =
        px >= reach && py >= reach && px < map.width - 1 - reach && py < map.height - 1 - reach;
      if (!inFrame) continue;
      const dx = px - region.cx;
      const dy = py - region.cy;
      const d2 = dx * dx + dy * dy;
      const inDisk = d2 < surelyIn ? true : d2 > surelyOut ? false : Math.hypot(dx, dy) < limit;
      if (inDisk) {
        xs[n] = px;
        ys[n] = py;
        n++;
      }
    }
  }
  return { xs: xs.slice(0, n), ys: ys.slice(0, n), reach };
}
