// Refining a lattice vector and scoring it: a Gauss-Newton fit of the shift, coarse then fine, and its match quality (the periodicity).
import type { Vector } from "./lattice.ts";
import { FIT_MOVE, type LatticeSearch, latticeSearch, samplesFor } from "./lattice-search.ts";
import { blockShiftSums, type ShiftSamples, shiftCost, staysInside } from "./lattice-shift-cost.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { LATTICE, LATTICE_SEARCH } from "./thresholds.ts";

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
  return { v: fitted.v, quality: matchQuality(map, samples, fitted.v, noiseSigma) };
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
 * the image is. A pattern too faint to stand above the noise scores 0.
 *
 * Read per block of the sample disk (LATTICE.qualityBlocks per side) and the blocks' median
 * taken, each block weighted by its samples: a die grid repeats in every block, while a defect
 * breaks the repeat only in the few blocks it covers. A defect's difference energy adds about
 * equally to both costs (it lies at the point and at the point shifted, by v or by v/2), so in
 * one mean over the disk it pulls the quality towards 0 by its share of the energy: on a faint
 * pattern (streets near the spec's 95% of the die level, noise near its 1.5%) a few stains and
 * scratches of 10-15% contrast outweigh the pattern, and a clear grid read under
 * LATTICE.minPeriodicity (docs/detector-recall.md round 48).
 */
function matchQuality(map: FloatMap, samples: ShiftSamples, v: Vector, noiseSigma: number): number {
  const variance = noiseSigma * noiseSigma;
  const floor = NOISE_FLOOR * variance;
  const count = samples.xs.length;
  const { block, blocks, counts } = sampleBlocks(samples);
  const atHalf = blockShiftSums(map, samples, { x: v.x / 2, y: v.y / 2 }, block, blocks);
  if (count === 0 || (atHalf[blocks] as number) / count - floor <= 0.5 * variance) return 0;
  const atV = blockShiftSums(map, samples, v, block, blocks);
  const perBlock: Array<{ quality: number; weight: number }> = [];
  for (let b = 0; b < blocks; b++) {
    const n = counts[b] as number;
    if (n === 0) continue;
    const halfPattern = (atHalf[b] as number) / n - floor;
    const fullPattern = Math.max(0, (atV[b] as number) / n - floor);
    perBlock.push({
      quality: halfPattern <= 0.5 * variance ? 0 : 1 - fullPattern / halfPattern,
      weight: n,
    });
  }
  return weightedMedian(perBlock);
}

/** The value at half the total weight, walking the values in order. */
function weightedMedian(items: Array<{ quality: number; weight: number }>): number {
  items.sort((p, q) => p.quality - q.quality);
  const half = 0.5 * items.reduce((s, it) => s + it.weight, 0);
  let run = 0;
  for (const it of items) {
    run += it.weight;
    if (run >= half) return it.quality;
  }
  return 0;
}

/** Each sample's block (row-major) in the sample points' bounding square, built once per set. */
interface SampleBlocks {
  block: Uint16Array;
  blocks: number;
  /** Sample points per block. */
  counts: Float64Array;
}

const BLOCKS = new WeakMap<ShiftSamples, SampleBlocks>();

function sampleBlocks(samples: ShiftSamples): SampleBlocks {
  const known = BLOCKS.get(samples);
  if (known) return known;
  const { xs, ys } = samples;
  const side = LATTICE.qualityBlocks;
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < xs.length; i++) {
    x0 = Math.min(x0, xs[i] as number);
    x1 = Math.max(x1, xs[i] as number);
    y0 = Math.min(y0, ys[i] as number);
    y1 = Math.max(y1, ys[i] as number);
  }
  const span = Math.max(x1 - x0, y1 - y0, 1e-9);
  const block = new Uint16Array(xs.length);
  const counts = new Float64Array(side * side);
  for (let i = 0; i < xs.length; i++) {
    const bx = Math.min(side - 1, Math.floor((((xs[i] as number) - x0) / span) * side));
    const by = Math.min(side - 1, Math.floor((((ys[i] as number) - y0) / span) * side));
    const b = by * side + bx;
    block[i] = b;
    counts[b] = (counts[b] as number) + 1;
  }
  const made = { block, blocks: side * side, counts };
  BLOCKS.set(samples, made);
  return made;
}
