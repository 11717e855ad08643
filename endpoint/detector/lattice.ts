// Die lattice of a patterned wafer: orientation, pitch vectors and street phase, measured on the map.
import { kernelLayout } from "./kernel.ts";
import type { DiskRegion } from "./noise.ts";
import { type FloatMap, sampleBilinear } from "./raster.ts";
import { LATTICE, LATTICE_SEARCH } from "./thresholds.ts";

export interface Vector {
  x: number;
  y: number;
}

export interface Lattice {
  /** Lattice vectors in working-map pixels; a is the one nearer the image x axis. */
  a: Vector;
  b: Vector;
  /** Offset (map px, along each unit vector from the disk centre) of a street centre line. */
  streetPhase: { a: number; b: number };
  /** How well one die maps onto the next (1 = perfect repeat, 0 = no periodicity). */
  periodicity: number;
}

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

function withBaseValues(
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
function staysInside(samples: ShiftSamples, sx: number, sy: number): boolean {
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
 * Sample counts of the search. They set how finely the shift cost is estimated, not what is
 * measured: the coarse stages (the lag scan and each candidate's first fit, on the coarse map)
 * only have to land inside the basin of the right minimum; the vector and its match quality
 * are then fixed on the full-resolution map. These are cost knobs, not detection thresholds,
 * hence here and not in thresholds.ts.
 */
const SEARCH_POINTS = {
  /** Every lag from the shortest to the longest pitch (about 90 lags per axis at 1024 map px). */
  lagScan: { 1: 600, 2: 400 },
  /**
   * The shortlisted lags (SHORTLIST_SHARE) are priced again on this many points, and the pitch
   * rule (nearBestShare 0.2) runs on those costs. A coarse point averages four map pixels (a
   * quarter of the noise variance), so the coarse map needs fewer.
   */
  lagConfirm: { 1: 3000, 2: 1200 },
  /** The first fit of each candidate, on the coarse map. */
  coarseFit: { 1: 1500, 2: 1500 },
  /** The full-resolution fit of the vector and its match quality. */
  fine: { 1: 6000, 2: 6000 },
} as const;

/** Lags whose rough cost is within this share of (median - min) of the best are priced again. */
const SHORTLIST_SHARE = 0.4;

/** How far (px of the map fitted on, per axis) a fit may move from its start. */
const FIT_MOVE = 2;

/**
 * The coarse map the search runs on first: the map averaged over f x f blocks, so its pixels
 * are fewer (the scattered samples stay in cache) and its noise lower, while the die pattern,
 * repeating over at least LATTICE_SEARCH.coarsePxPerPitch coarse px, keeps its fundamental and
 * the harmonics that make the shift cost dip at the pitch. Coarse x = (map x - (f - 1) / 2) / f.
 */
export interface CoarseView {
  map: FloatMap;
  region: DiskRegion;
  factor: number;
}

/**
 * One coarse map's buffer for every wafer (detection is synchronous; the view is dropped when
 * measureLattice returns): a megabyte per wafer less for the garbage collector.
 */
let coarseBuffer = new Float32Array(0);

function keptCoarseBuffer(length: number, lent?: Float32Array): Float32Array {
  // A lent buffer (detect's residual, first written after this stage) spares the fresh one.
  if (lent && lent.length >= length) return lent.subarray(0, length).fill(0);
  if (coarseBuffer.length !== length) coarseBuffer = new Float32Array(length);
  else coarseBuffer.fill(0);
  return coarseBuffer;
}

/** The coarse view for a search whose shortest pitch is `minPitch` map px (f = 1: the map itself). */
export function coarseView(
  map: FloatMap,
  region: DiskRegion,
  minPitch: number,
  /** Room for the coarse map, lent for the search (its values are overwritten), else kept one. */
  lent?: Float32Array,
): CoarseView {
  const factor = minPitch / 2 >= LATTICE_SEARCH.coarsePxPerPitch ? 2 : 1;
  if (factor === 1) return { map, region, factor };
  const width = Math.floor(map.width / 2);
  const height = Math.floor(map.height / 2);
  const data = keptCoarseBuffer(width * height, lent);
  // Only the disk's bounding square is read: every sample and every shifted sample of the
  // search lies inside the disk.
  const i0 = Math.max(0, Math.floor((region.cx - region.r) / 2) - 1);
  const i1 = Math.min(width, Math.ceil((region.cx + region.r) / 2) + 2);
  const j0 = Math.max(0, Math.floor((region.cy - region.r) / 2) - 1);
  const j1 = Math.min(height, Math.ceil((region.cy + region.r) / 2) + 2);
  const src = map.data;
  const w = map.width;
  for (let j = j0; j < j1; j++) {
    const top = 2 * j * w;
    const bottom = top + w;
    const row = j * width;
    for (let i = i0; i < i1; i++) {
      const x = 2 * i;
      data[row + i] =
        ((src[top + x] as number) +
          (src[top + x + 1] as number) +
          (src[bottom + x] as number) +
          (src[bottom + x + 1] as number)) *
        0.25;
    }
  }
  return {
    map: { width, height, scale: map.scale * 2, data },
    region: { cx: (region.cx - 0.5) / 2, cy: (region.cy - 0.5) / 2, r: region.r / 2 },
    factor,
  };
}

/**
 * One wafer's search: the map, its coarse view, and the sample point sets with their base
 * values, each built once and shared by both axes, every candidate and both orientations
 * tried. Their reach covers the longest shift any stage prices, so which candidate comes first
 * never changes the points.
 */
export interface LatticeSearch {
  map: FloatMap;
  region: DiskRegion;
  coarse: CoarseView;
  /** Longest lag (map px) the pitch scan prices. */
  longest: number;
  samples: Partial<Record<keyof typeof SEARCH_POINTS, ShiftSamples>>;
  /** The street phase's points (phasePoints), built on first use. */
  phase?: PointSet;
  /** Whether any candidate showed pattern energy above the noise (refineVector). */
  sawPattern: boolean;
}

/** A search over pitches from `shortest` to `longest` map px. */
export function latticeSearch(
  map: FloatMap,
  region: DiskRegion,
  shortest: number,
  longest: number,
  lent?: Float32Array,
): LatticeSearch {
  return {
    map,
    region,
    coarse: coarseView(map, region, shortest, lent),
    longest,
    samples: {},
    sawPattern: false,
  };
}

/** The search's point set `kind`, built on first use. */
function samplesFor(
  search: LatticeSearch,
  kind: "lagScan" | "lagConfirm" | "coarseFit" | "fine",
): ShiftSamples {
  const known = search.samples[kind];
  if (known) return known;
  const { coarse } = search;
  const f = coarse.factor;
  // A candidate lies at most half a lag step (0.5 px) past the longest lag; a coarse fit
  // moves it FIT_MOVE coarse px per axis, the full-resolution fit FIT_MOVE map px more.
  const longestStart = search.longest + 0.5;
  const onCoarse = kind !== "fine";
  const reach =
    kind === "lagScan" || kind === "lagConfirm"
      ? search.longest / f + 2
      : kind === "coarseFit"
        ? longestStart / f + FIT_MOVE * Math.SQRT2 + 2
        : longestStart + (f + 1) * FIT_MOVE * Math.SQRT2 + 2;
  const map = onCoarse ? coarse.map : search.map;
  const region = onCoarse ? coarse.region : search.region;
  const count = SEARCH_POINTS[kind][f === 1 ? 1 : 2];
  const samples = withBaseValues(map, samplePoints(region, reach, count, map));
  search.samples[kind] = samples;
  return samples;
}

/**
 * Gauss-Newton fit of the shift `v` minimising the mean squared difference between the map
 * at the sample points and at the points shifted by v, from a start inside the minimum's
 * basin: each step solves the 2x2 normal equations of the linearised difference (bilinear
 * gradients at the shifted points); a step that raises the cost is halved. Stops when a step
 * is below `tolerance` px per axis; moves at most FIT_MOVE px from the start per axis. Returns
 * the lowest-cost shift priced, with its cost.
 */
function fitShift(
  map: FloatMap,
  samples: ShiftSamples,
  start: Vector,
  tolerance: number,
): { v: Vector; cost: number } {
  // Off the unclamped reads' reach (only when the sample disk is tiny): price the start only.
  if (!staysInside(samples, Math.abs(start.x) + FIT_MOVE, Math.abs(start.y) + FIT_MOVE))
    return { v: start, cost: shiftCost(map, samples, start) };
  const { xs, ys, base } = samples;
  const { data, width } = map;
  const n = xs.length;
  let v = { ...start };
  let best = { v: { ...start }, cost: Number.POSITIVE_INFINITY };
  let step = { x: 0, y: 0 };
  for (let pass = 0; pass < 12; pass++) {
    let cost = 0;
    let hxx = 0;
    let hxy = 0;
    let hyy = 0;
    let gx = 0;
    let gy = 0;
    for (let i = 0; i < n; i++) {
      const x = (xs[i] as number) + v.x;
      const y = (ys[i] as number) + v.y;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const k = y0 * width + x0;
      const a = data[k] as number;
      const b = data[k + 1] as number;
      const c = data[k + width] as number;
      const d = data[k + width + 1] as number;
      const cross = a - b - c + d;
      const r = (base[i] as number) - (a + (b - a) * fx + (c - a) * fy + cross * fx * fy);
      const dx = b - a + cross * fy;
      const dy = c - a + cross * fx;
      cost += r * r;
      hxx += dx * dx;
      hxy += dx * dy;
      hyy += dy * dy;
      gx += dx * r;
      gy += dy * r;
    }
    cost /= n;
    if (cost >= best.cost) {
      // The last step overshot: go back half of it.
      step = { x: step.x / 2, y: step.y / 2 };
      if (Math.abs(step.x) < tolerance && Math.abs(step.y) < tolerance) break;
      v = { x: best.v.x + step.x, y: best.v.y + step.y };
      continue;
    }
    best = { v, cost };
    const det = hxx * hyy - hxy * hxy;
    if (!(det > 0)) break;
    const next = {
      x: Math.max(
        start.x - FIT_MOVE,
        Math.min(
          start.x + FIT_MOVE,
          v.x + Math.max(-0.5, Math.min(0.5, (hyy * gx - hxy * gy) / det)),
        ),
      ),
      y: Math.max(
        start.y - FIT_MOVE,
        Math.min(
          start.y + FIT_MOVE,
          v.y + Math.max(-0.5, Math.min(0.5, (hxx * gy - hxy * gx) / det)),
        ),
      ),
    };
    step = { x: next.x - v.x, y: next.y - v.y };
    if (Math.abs(step.x) < tolerance && Math.abs(step.y) < tolerance) break;
    v = next;
  }
  return best;
}

/**
 * The shift that best maps the pattern onto itself near `start` (map px), with its match
 * quality: a fit on the coarse map (to a twentieth of its pixel), then a fit to a few
 * thousandths of a pixel and the quality on the full-resolution map, on one point set.
 */
export function refineVector(
  map: FloatMap,
  region: DiskRegion,
  start: Vector,
  noiseSigma = 0,
  search: LatticeSearch = latticeSearch(
    map,
    region,
    Math.hypot(start.x, start.y),
    Math.hypot(start.x, start.y),
  ),
): { v: Vector; quality: number } {
  const { coarse } = search;
  const f = coarse.factor;
  const samples = samplesFor(search, "fine");
  // matchQuality scores 0 when the difference energy at half the shift does not stand half a
  // noise variance above the noise floor. Below a quarter at the start, there is no pattern
  // here, or half the start lies on a repeat of it and the fit (onto twice that repeat) keeps
  // it there: nothing to fit (LATTICE_SEARCH.faintShare).
  const variance = noiseSigma * noiseSigma;
  const halfStart = { x: start.x / 2, y: start.y / 2 };
  if (
    variance > 0 &&
    shiftCost(map, samples, halfStart) - NOISE_FLOOR * variance <=
      LATTICE_SEARCH.faintShare * variance
  )
    return { v: start, quality: 0 };
  search.sawPattern = true;
  const onCoarse = fitShift(
    coarse.map,
    samplesFor(search, "coarseFit"),
    {
      x: start.x / f,
      y: start.y / f,
    },
    0.05,
  ).v;
  const fitted = fitShift(map, samples, { x: onCoarse.x * f, y: onCoarse.y * f }, 0.005);
  return { v: fitted.v, quality: matchQuality(map, samples, fitted.v, fitted.cost, noiseSigma) };
}

/** Phase (map px from the centre along `unit`) of the darkest line of a period-`pitch` profile. */
function streetPhase(points: PointSet, unit: Vector, pitch: number): number {
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
interface PointSet {
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
function diskPoints(
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
  for (let gy = Math.max(0, Math.ceil(region.cy - region.r)); gy < yEnd; gy += stride) {
    for (let gx = Math.max(0, Math.ceil(region.cx - region.r)); gx < xEnd; gx += stride) {
      let x = gx;
      let y = gy;
      if (scattered) {
        cell++;
        const tx = cell * 0.6180339887498949;
        const ty = cell * 0.7548776662466927;
        x = Math.min(xLast, gx + Math.floor((tx - Math.floor(tx)) * stride));
        y = Math.min(yLast, gy + Math.floor((ty - Math.floor(ty)) * stride));
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
function orientationPoints(map: FloatMap, region: DiskRegion): PointSet {
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

/**
 * Candidate pitches along `unit`, shortest first: every local minimum of the shift cost that
 * maps the pattern onto itself about as well as the best shift does. Multiples of the pitch
 * match too, and a motif repeating inside a die matches only partly (the streets do not line
 * up), so the shortest near-best shift is usually the pitch; when it is not (a motif repeat
 * that happens to match well, a reticle field), the caller tries the next candidate.
 */
export function pitchCandidates(
  map: FloatMap,
  region: DiskRegion,
  unit: Vector,
  lo: number,
  hi: number,
  search: LatticeSearch = latticeSearch(map, region, lo, hi),
): number[] {
  const { coarse } = search;
  // Lags in map px as before (steps of 1 px, or 0.5 on short ranges); priced on the coarse
  // map, whose px are `factor` map px. The vector refinement afterwards is sub-pixel anyway.
  const f = coarse.factor;
  const stepMap = Math.max(0.5, Math.min(1, (hi - lo) / 60));
  const step = stepMap / f;
  const lags: number[] = [];
  for (let lag = lo; lag <= hi; lag += stepMap) lags.push(lag / f);
  if (lags.length < 3) return [];
  const scanned = coarse.map;
  // Every lag is priced on a few points first; only lags that could pass (and their two
  // neighbours, for the local-minimum test and the parabola) are priced on more points, and
  // the candidate rule runs on those costs; only the median comes from the rough scan.
  const rough = lagCosts(scanned, samplesFor(search, "lagScan"), unit, lags);
  const roughSorted = [...rough].sort((a, b) => a - b);
  const roughMin = roughSorted[0] as number;
  const median = roughSorted[Math.floor(roughSorted.length / 2)] as number;
  const shortlistBelow = roughMin + SHORTLIST_SHARE * (median - roughMin);
  const shortlisted = new Uint8Array(lags.length);
  const priced = new Uint8Array(lags.length);
  for (let i = 0; i < lags.length; i++) {
    if ((rough[i] as number) > shortlistBelow) continue;
    shortlisted[i] = 1;
    for (let j = Math.max(0, i - 1); j <= Math.min(lags.length - 1, i + 1); j++) priced[j] = 1;
  }
  const pricedIndex: number[] = [];
  for (let i = 0; i < lags.length; i++) if (priced[i]) pricedIndex.push(i);
  const fullCosts = lagCosts(
    scanned,
    samplesFor(search, "lagConfirm"),
    unit,
    pricedIndex.map((i) => lags[i] as number),
  );
  const costs: number[] = new Array(lags.length).fill(Number.POSITIVE_INFINITY);
  pricedIndex.forEach((i, k) => {
    costs[i] = fullCosts[k] as number;
  });
  const min = Math.min(...fullCosts);
  const accept = min + LATTICE.nearBestShare * (median - min);
  const found: number[] = [];
  for (let i = 0; i < costs.length; i++) {
    const c = costs[i] as number;
    const left = costs[i - 1] ?? Number.POSITIVE_INFINITY;
    const right = costs[i + 1] ?? Number.POSITIVE_INFINITY;
    if (shortlisted[i] && c <= accept && c <= left && c <= right) {
      const denom = left - 2 * c + right;
      const shift =
        Number.isFinite(denom) && denom > 0
          ? Math.max(-0.5, Math.min(0.5, (0.5 * (left - right)) / denom))
          : 0;
      found.push(((lags[i] as number) + shift * step) * f);
      if (found.length >= LATTICE.maxCandidates) break;
    }
  }
  return found;
}

/**
 * The lattice vector along `unit`: every candidate is refined and scored, and the one that
 * repeats the pattern best wins. Multiples of the pitch score near 0 (half of them is a
 * repeat too) and a motif repeat inside the die scores below the pitch (its streets do not
 * line up), so the best score is the die pitch; null when none reaches the floor.
 */
function bestVector(
  search: LatticeSearch,
  unit: Vector,
  candidates: number[],
  noiseSigma: number,
): { v: Vector; quality: number } | null {
  let best: { v: Vector; quality: number } | null = null;
  const goodRepeats: number[] = [];
  for (const pitch of candidates) {
    // A multiple of a shift that already repeats the pattern well cannot beat it.
    const multiple = goodRepeats.some((p) => {
      const k = Math.round(pitch / p);
      return k >= 2 && Math.abs(pitch / p - k) < 0.03 * k;
    });
    if (multiple) continue;
    const fitted = refineVector(
      search.map,
      search.region,
      { x: unit.x * pitch, y: unit.y * pitch },
      noiseSigma,
      search,
    );
    if (fitted.quality >= LATTICE.goodPeriodicity)
      goodRepeats.push(Math.hypot(fitted.v.x, fitted.v.y));
    if (!best || fitted.quality > best.quality) best = fitted;
  }
  return best && best.quality >= LATTICE.minPeriodicity ? best : null;
}

/**
 * Measures the die lattice, or returns null when the surface shows no clear periodicity.
 * `expectedPitchPx` (map px, from hints) narrows the search when known.
 */
export function measureLattice(
  map: FloatMap,
  region: DiskRegion,
  waferDiameterPx: number,
  notchAngleDeg: number,
  noiseSigma: number,
  expectedPitchPx?: Vector,
  /** A map-sized buffer first written after this call, lent for the coarse map (coarseView). */
  lent?: Float32Array,
): Lattice | null {
  // The orientation's points, read once per wafer even when the quadrant scan below runs too.
  const points = orientationPoints(map, region);
  const { minPitch, maxPitch } = pitchRange(region, waferDiameterPx);
  const hinted = expectedPitchPx ? [expectedPitchPx.x, expectedPitchPx.y] : [];
  const context = latticeSearch(
    map,
    region,
    Math.min(minPitch, ...hinted.map((p) => p * (1 - LATTICE.hintTolerance))),
    Math.max(maxPitch, ...hinted.map((p) => p * (1 + LATTICE.hintTolerance))),
    lent,
  );
  const priorAngle = gridOrientation(map, region, ((notchAngleDeg - 90) * Math.PI) / 180, points);
  const withPrior = measureLatticeAt(
    context,
    waferDiameterPx,
    notchAngleDeg,
    noiseSigma,
    priorAngle,
    expectedPitchPx,
  );
  if (withPrior && withPrior.periodicity >= LATTICE.goodPeriodicity) return withPrior;
  // No candidate shift showed pattern energy above the noise: the surface has no pattern (a
  // bare wafer, a stain), and a die grid turned any other way would have shown it too (half
  // a pitch along any direction but a lattice vector moves it off itself).
  if (!withPrior && !context.sawPattern) return null;
  // The notch may be misread (or the grid not square to it): scan the whole quadrant. When the
  // scan finds the orientation already searched (within its quarter-degree step), searching it
  // again would find the same lattice, or the same lack of one.
  const scannedAngle = gridOrientation(map, region, undefined, points);
  const apart = Math.abs(angleModQuarterTurn(scannedAngle - priorAngle));
  if (apart <= (LATTICE_SEARCH.sameOrientationDeg * Math.PI) / 180) return withPrior;
  const scanned = measureLatticeAt(
    context,
    waferDiameterPx,
    notchAngleDeg,
    noiseSigma,
    scannedAngle,
    expectedPitchPx,
  );
  if (!withPrior) return scanned;
  return scanned && scanned.periodicity > withPrior.periodicity ? scanned : withPrior;
}

/** An angle (radians) folded into [-45, 45) degrees: a grid looks the same turned by 90. */
function angleModQuarterTurn(angle: number): number {
  const quarter = Math.PI / 2;
  return angle - quarter * Math.round(angle / quarter);
}

/**
 * Points for the street phase: one map pixel picked at random from each 4 x 4 cell (a quarter
 * of the every-other-pixel grid it had, at the same map values). Whole-pixel positions on a
 * regular grid of step s fold onto only pitch / s distinct phases of an axis-aligned grid; the
 * scattered picks fill all 64 bins of the profile.
 */
function phasePoints(context: LatticeSearch): PointSet {
  context.phase ??= diskPoints(context.map, context.region, 4, true);
  return context.phase;
}

/** The pitch search range (map px): the spec's range with slack, at most half the disk's radius. */
function pitchRange(
  region: DiskRegion,
  waferDiameterPx: number,
): { minPitch: number; maxPitch: number } {
  return {
    minPitch: LATTICE.minPitchShare * waferDiameterPx,
    maxPitch: Math.min(LATTICE.maxPitchShare * waferDiameterPx, region.r * 0.5),
  };
}

function measureLatticeAt(
  context: LatticeSearch,
  waferDiameterPx: number,
  notchAngleDeg: number,
  noiseSigma: number,
  angle: number,
  expectedPitchPx?: Vector,
): Lattice | null {
  const { map, region } = context;
  const ua = { x: Math.cos(angle), y: Math.sin(angle) };
  const ub = { x: -Math.sin(angle), y: Math.cos(angle) };
  const { minPitch, maxPitch } = pitchRange(region, waferDiameterPx);
  const search = (unit: Vector, expected: number | undefined) =>
    expected === undefined
      ? pitchCandidates(map, region, unit, minPitch, maxPitch, context)
      : pitchCandidates(
          map,
          region,
          unit,
          expected * (1 - LATTICE.hintTolerance),
          expected * (1 + LATTICE.hintTolerance),
          context,
        );
  const best = (unit: Vector, expected: number | undefined) =>
    bestVector(context, unit, search(unit, expected), noiseSigma);
  let found: [ReturnType<typeof bestVector>, ReturnType<typeof bestVector>] = [null, null];
  if (expectedPitchPx) {
    // The hint is per oriented axis; the oriented x axis points at (notch - 90) degrees
    // clockwise in the image. A wrongly detected notch would pair them the other way round.
    const orientedX = ((notchAngleDeg - 90) * Math.PI) / 180;
    const aIsX = Math.abs(Math.cos(angle - orientedX)) >= Math.SQRT1_2;
    const pairs = aIsX
      ? [
          [expectedPitchPx.x, expectedPitchPx.y],
          [expectedPitchPx.y, expectedPitchPx.x],
        ]
      : [
          [expectedPitchPx.y, expectedPitchPx.x],
          [expectedPitchPx.x, expectedPitchPx.y],
        ];
    for (const [expA, expB] of pairs) {
      found = [best(ua, expA), best(ub, expB)];
      if (found[0] && found[1]) break;
    }
  }
  if (!found[0] || !found[1]) found = [best(ua, undefined), best(ub, undefined)];
  const [fa, fb] = found;
  if (!fa || !fb) return null;
  const { v: a } = fa;
  const { v: b } = fb;
  const periodicity = Math.min(fa.quality, fb.quality);
  const la = Math.hypot(a.x, a.y);
  const lb = Math.hypot(b.x, b.y);
  const points = phasePoints(context);
  const unitA = { x: a.x / la, y: a.y / la };
  const unitB = { x: b.x / lb, y: b.y / lb };
  const lattice: Lattice = {
    a,
    b,
    streetPhase: { a: streetPhase(points, unitA, la), b: streetPhase(points, unitB, lb) },
    periodicity,
  };
  return Math.abs(unitA.x) >= Math.abs(unitB.x)
    ? lattice
    : {
        a: b,
        b: a,
        streetPhase: { a: lattice.streetPhase.b, b: lattice.streetPhase.a },
        periodicity,
      };
}

/**
 * The noise's share of a shift cost, in noise variances: two bilinear samples at scattered
 * sub-pixel offsets each keep 2 x E[sum of weights^2] = 8/9 of it.
 */
const NOISE_FLOOR = 8 / 9;

/**
 * 1 - (pattern difference energy at shift v) / (at v/2), the noise's share removed from both:
 * near 1 when v maps the pattern onto itself and half of it does not (a die lattice), low on
 * smooth surfaces where no shift matches better than another, and insensitive to how noisy
 * the image is. A pattern too faint to stand above the noise scores 0. `costAtV` is
 * shiftCost(map, samples, v), already known from the fit.
 */
function matchQuality(
  map: FloatMap,
  samples: ShiftSamples,
  v: Vector,
  costAtV: number,
  noiseSigma: number,
): number {
  const halfShift = { x: v.x / 2, y: v.y / 2 };
  const variance = noiseSigma * noiseSigma;
  const floor = NOISE_FLOOR * variance;
  const halfPattern = shiftCost(map, samples, halfShift) - floor;
  if (halfPattern <= 0.5 * variance) return 0;
  const fullPattern = Math.max(0, costAtV - floor);
  return 1 - fullPattern / halfPattern;
}
