// Die lattice of a patterned wafer: orientation, pitch vectors and street phase, measured on the map.
import type { DiskRegion } from "./noise.ts";
import { type FloatMap, sampleBilinear } from "./raster.ts";
import { LATTICE } from "./thresholds.ts";

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
interface ShiftSamples {
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
function lagCosts(map: FloatMap, samples: ShiftSamples, unit: Vector, lags: number[]): number[] {
  const { xs, ys, base } = samples;
  const { data, width, height } = map;
  const count = lags.length;
  const shiftX = Float64Array.from(lags, (lag) => unit.x * lag);
  const shiftY = Float64Array.from(lags, (lag) => unit.y * lag);
  const sums = new Float64Array(count);
  const inside = lags.every((lag) => staysInside(samples, unit.x * lag, unit.y * lag));
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
 * Sample counts of the search. They set how finely the shift cost is estimated, not what is
 * measured: the coarse stages (the lag scan, the first halving steps) only have to land near
 * the right minimum, so they price a few points; the steps that fix the vector to hundredths of
 * a pixel and the match quality keep the full count. These are cost knobs, not detection
 * thresholds, hence here and not in thresholds.ts.
 */
const SEARCH_POINTS = {
  /** Every lag from the shortest to the longest pitch (about 100 lags per axis at 2048 px). */
  lagScan: 600,
  /** Lags whose rough cost is within this share of (median - min) of the best are priced again... */
  shortlistShare: 0.4,
  /** ... on this many points, as every lag was before (the pitch rule's nearBestShare is 0.2). */
  lagConfirm: 3000,
  /** Halving steps of 0.5 to 0.125 px: they only move the start by fractions of a pixel. */
  coarseRefine: 1500,
  /** Halving steps below 0.125 px: the vector as measured. */
  fineRefine: 5000,
  /** The last halving step the coarse points take. */
  coarseUntilPx: 0.125,
} as const;

/**
 * Pattern search (halving steps) from `start` for the shift with the lowest cost over `samples`,
 * steps from `firstDelta` while above `lastDelta`.
 */
function patternSearch(
  map: FloatMap,
  samples: ShiftSamples,
  start: Vector,
  firstDelta: number,
  lastDelta: number,
): Vector {
  let best = { ...start };
  let bestCost = shiftCost(map, samples, best);
  const known = new Map<string, number>([[`${best.x},${best.y}`, bestCost]]);
  for (let delta = firstDelta; delta > lastDelta; delta /= 2) {
    let improved = true;
    while (improved) {
      improved = false;
      for (const [ddx, ddy] of [
        [delta, 0],
        [-delta, 0],
        [0, delta],
        [0, -delta],
      ] as const) {
        const candidate = { x: best.x + ddx, y: best.y + ddy };
        // Each move's next round tries the point it came from again: its cost is known.
        const key = `${candidate.x},${candidate.y}`;
        const cost = known.get(key) ?? shiftCost(map, samples, candidate);
        known.set(key, cost);
        if (cost < bestCost) {
          bestCost = cost;
          best = candidate;
          improved = true;
        }
      }
    }
  }
  return best;
}

/**
 * The shift that best maps the pattern onto itself, near `start`: halving steps of 0.5 px down
 * to 0.125 px on a coarse point set, then down to 0.03 px on the full one. The fine steps may
 * walk as far as they need: a coarse start a step off still ends in a minimum of the full cost.
 */
export function refineVector(map: FloatMap, region: DiskRegion, start: Vector): Vector {
  const reach = Math.hypot(start.x, start.y) + 2;
  const coarse = withBaseValues(map, samplePoints(region, reach, SEARCH_POINTS.coarseRefine, map));
  const near = patternSearch(map, coarse, start, 0.5, SEARCH_POINTS.coarseUntilPx / 2);
  const fine = withBaseValues(map, samplePoints(region, reach, SEARCH_POINTS.fineRefine, map));
  return patternSearch(map, fine, near, SEARCH_POINTS.coarseUntilPx / 2, 0.02);
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

function diskPoints(map: FloatMap, region: DiskRegion, stride: number): PointSet {
  // The disk fills pi/4 of its bounding square; a little slack covers rounding at the rim.
  const capacity = Math.ceil(0.8 * ((2 * region.r) / stride + 2) ** 2) + 64;
  const dx = new Float32Array(capacity);
  const dy = new Float32Array(capacity);
  const value = new Float32Array(capacity);
  const r2 = region.r * region.r;
  let n = 0;
  const yEnd = Math.min(map.height, region.cy + region.r);
  const xEnd = Math.min(map.width, region.cx + region.r);
  for (let y = Math.max(0, Math.ceil(region.cy - region.r)); y < yEnd; y += stride) {
    const oy = y - region.cy;
    const row = y * map.width;
    for (let x = Math.max(0, Math.ceil(region.cx - region.r)); x < xEnd; x += stride) {
      const ox = x - region.cx;
      if (ox * ox + oy * oy > r2 || n >= capacity) continue;
      dx[n] = ox;
      dy[n] = oy;
      value[n] = map.data[row + x] as number;
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
 * Angle (mod 90 degrees) at which street projections are sharpest. With a prior (the grid
 * turns with the notch) only a few degrees around it are searched; without one, the whole
 * quadrant is scanned coarsely first. Gradient-orientation estimates would be cheaper but
 * pixel staircases on turned grids fool them.
 */
export function gridOrientation(
  map: FloatMap,
  region: DiskRegion,
  prior?: number,
  pointsAt: (stride: number) => PointSet = (stride) => diskPoints(map, region, stride),
): number {
  // The coarse pass only has to land within its step (a quarter degree, or a degree) of the
  // sharpest angle: every sixth pixel each way prices it at half the cost of every fourth.
  const coarse = pointsAt(6);
  const fine = pointsAt(3);
  const passes: Array<[number, number, PointSet, number]> =
    prior === undefined
      ? [
          [45, 1, coarse, 2],
          [1, 0.1, fine, 1],
          [0.1, 0.02, fine, 0.5],
        ]
      : [
          // Tenths of a degree are left to the sub-pixel refinement of each vector: it moves
          // both coordinates, and 0.05 degrees is 0.1 px across a 100 px pitch.
          [2, 0.25, coarse, 2],
          [0.2, 0.1, fine, 1],
        ];
  let best = prior ?? 0;
  for (const [span, step, points, binPx] of passes) {
    const centre = best;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let d = -span; d < span + 1e-9; d += step) {
      const a = centre + (d * Math.PI) / 180;
      // Both street families must line up at once.
      const value = gridSharpness(points, region.r, a, binPx);
      if (value > bestValue) {
        bestValue = value;
        best = a;
      }
    }
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
): number[] {
  // Coarse steps over a wide range: the vector refinement afterwards is sub-pixel anyway.
  const step = Math.max(0.5, Math.min(1, (hi - lo) / 60));
  const lags: number[] = [];
  for (let lag = lo; lag <= hi; lag += step) lags.push(lag);
  if (lags.length < 3) return [];
  // Every lag is priced on a few points first; only lags that could pass (and their two
  // neighbours, for the local-minimum test and the parabola) are priced on the full set. The
  // full costs are the same numbers a full scan gives; only the median comes from the rough scan.
  const reach = hi + 2;
  const rough = lagCosts(
    map,
    withBaseValues(map, samplePoints(region, reach, SEARCH_POINTS.lagScan, map)),
    unit,
    lags,
  );
  const roughSorted = [...rough].sort((a, b) => a - b);
  const roughMin = roughSorted[0] as number;
  const median = roughSorted[Math.floor(roughSorted.length / 2)] as number;
  const shortlistBelow = roughMin + SEARCH_POINTS.shortlistShare * (median - roughMin);
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
    map,
    withBaseValues(map, samplePoints(region, reach, SEARCH_POINTS.lagConfirm, map)),
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
      found.push((lags[i] as number) + shift * step);
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
  map: FloatMap,
  region: DiskRegion,
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
    const v = refineVector(map, region, { x: unit.x * pitch, y: unit.y * pitch });
    const quality = matchQuality(map, region, v, noiseSigma);
    if (quality >= LATTICE.goodPeriodicity) goodRepeats.push(Math.hypot(v.x, v.y));
    if (!best || quality > best.quality) best = { v, quality };
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
): Lattice | null {
  // The point sets of the orientation passes and the street phase, read once per wafer even
  // when the quadrant scan below runs too (the same points either way).
  const pointSets = new Map<number, PointSet>();
  const pointsAt = (stride: number): PointSet => {
    const known = pointSets.get(stride);
    if (known) return known;
    const points = diskPoints(map, region, stride);
    pointSets.set(stride, points);
    return points;
  };
  const withPrior = measureLatticeAt(
    map,
    region,
    waferDiameterPx,
    notchAngleDeg,
    noiseSigma,
    gridOrientation(map, region, ((notchAngleDeg - 90) * Math.PI) / 180, pointsAt),
    pointsAt,
    expectedPitchPx,
  );
  if (withPrior && withPrior.periodicity >= LATTICE.goodPeriodicity) return withPrior;
  // The notch may be misread (or the grid not square to it): scan the whole quadrant.
  const scanned = measureLatticeAt(
    map,
    region,
    waferDiameterPx,
    notchAngleDeg,
    noiseSigma,
    gridOrientation(map, region, undefined, pointsAt),
    pointsAt,
    expectedPitchPx,
  );
  if (!withPrior) return scanned;
  return scanned && scanned.periodicity > withPrior.periodicity ? scanned : withPrior;
}

function measureLatticeAt(
  map: FloatMap,
  region: DiskRegion,
  waferDiameterPx: number,
  notchAngleDeg: number,
  noiseSigma: number,
  angle: number,
  pointsAt: (stride: number) => PointSet,
  expectedPitchPx?: Vector,
): Lattice | null {
  const ua = { x: Math.cos(angle), y: Math.sin(angle) };
  const ub = { x: -Math.sin(angle), y: Math.cos(angle) };
  const minPitch = LATTICE.minPitchShare * waferDiameterPx;
  const maxPitch = Math.min(LATTICE.maxPitchShare * waferDiameterPx, region.r * 0.5);
  const search = (unit: Vector, expected: number | undefined) =>
    expected === undefined
      ? pitchCandidates(map, region, unit, minPitch, maxPitch)
      : pitchCandidates(
          map,
          region,
          unit,
          expected * (1 - LATTICE.hintTolerance),
          expected * (1 + LATTICE.hintTolerance),
        );
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
      found = [
        bestVector(map, region, ua, search(ua, expA), noiseSigma),
        bestVector(map, region, ub, search(ub, expB), noiseSigma),
      ];
      if (found[0] && found[1]) break;
    }
  }
  if (!found[0] || !found[1]) {
    found = [
      bestVector(map, region, ua, search(ua, undefined), noiseSigma),
      bestVector(map, region, ub, search(ub, undefined), noiseSigma),
    ];
  }
  const [fa, fb] = found;
  if (!fa || !fb) return null;
  const { v: a } = fa;
  const { v: b } = fb;
  const periodicity = Math.min(fa.quality, fb.quality);
  const la = Math.hypot(a.x, a.y);
  const lb = Math.hypot(b.x, b.y);
  const phasePoints = pointsAt(2);
  const unitA = { x: a.x / la, y: a.y / la };
  const unitB = { x: b.x / lb, y: b.y / lb };
  const lattice: Lattice = {
    a,
    b,
    streetPhase: { a: streetPhase(phasePoints, unitA, la), b: streetPhase(phasePoints, unitB, lb) },
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
 * 1 - (pattern difference energy at shift v) / (at v/2), the noise's share removed from both:
 * near 1 when v maps the pattern onto itself and half of it does not (a die lattice), low on
 * smooth surfaces where no shift matches better than another, and insensitive to how noisy
 * the image is. A pattern too faint to stand above the noise scores 0.
 */
function matchQuality(map: FloatMap, region: DiskRegion, v: Vector, noiseSigma: number): number {
  const samples = withBaseValues(map, samplePoints(region, Math.hypot(v.x, v.y) + 2, 6000, map));
  const halfShift = { x: v.x / 2, y: v.y / 2 };
  const variance = noiseSigma * noiseSigma;
  // Two bilinear samples at scattered sub-pixel offsets: 2 x E[sum of weights^2] = 8/9 sigma^2.
  const floor = (8 / 9) * variance;
  const halfPattern = shiftCost(map, samples, halfShift) - floor;
  if (halfPattern <= 0.5 * variance) return 0;
  const fullPattern = Math.max(0, shiftCost(map, samples, v) - floor);
  return 1 - fullPattern / halfPattern;
}
