// Detection thresholds that follow the die pattern: score noise measured apart on flat and busy die areas.

import { seededUint32At } from "../../lib/random.ts";
import { kernelLayout } from "./kernel.ts";
import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { quantileOfMagnitudes, quantilesOfMagnitudes, selectRanksOfMagnitudes } from "./select.ts";
import { DETECTION, PIXEL_TAIL } from "./thresholds.ts";

/**
 * Score sigma per class of local pattern activity. On a patterned wafer the die-to-die
 * residual leaks a little at motif edges and is pure noise on flat die areas; one global
 * sigma would be too strict on the flat areas or too lax on the edges.
 */
export interface PatternAwareSigma {
  /** Upper bounds of pattern activity per class (ascending); the last is +Infinity. */
  bounds: Float64Array;
  sigmas: Float64Array;
  /** Offset (map px) to the same die position one die away, or 0 on bare wafers. */
  neighbourOffset: number;
  map: FloatMap;
  /** range3x3 of `map` at every pixel (activityMap), when taken. */
  activity?: ActivityMap | null;
}

/**
 * range3x3 of the pixels [from, to) (whole rows), held exactly as float32 (activityMap checks
 * that it is); range3x3 itself answers for any other pixel.
 */
export interface ActivityMap {
  range: Float32Array;
  from: number;
  to: number;
}

const CLASSES = DETECTION.activityClasses;
const Q95_TO_SIGMA = DETECTION.q95ToSigma;

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
function rangeAt(
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
function smallerRange(a: number, b: number): number {
  const m = Math.min(a, b);
  return Number.isFinite(m) ? m : 0;
}

export function sigmaAt(model: PatternAwareSigma, i: number): number {
  if (model.sigmas.length === 1) return model.sigmas[0] as number;
  return sigmaOfActivity(model, patternActivity(model, i));
}

/**
 * sigmaAt for a pixel whose pattern activity is known: models measured on the same map with
 * the same lattice (the zones of one wafer) share it, so it is taken once for all of them.
 */
export function sigmaOfActivity(model: PatternAwareSigma, activity: number): number {
  if (model.sigmas.length === 1) return model.sigmas[0] as number;
  let k = 0;
  while (k < model.bounds.length - 1 && activity > (model.bounds[k] as number)) k++;
  return model.sigmas[k] as number;
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

/** sigmaOfActivity(model, activity) with the model's fields read once (same values). */
export function classSigmaReader(model: PatternAwareSigma): (activity: number) => number {
  const { bounds, sigmas } = model;
  if (sigmas.length === 1) {
    const only = sigmas[0] as number;
    return () => only;
  }
  const last = bounds.length - 1;
  // Where the five bounds the loop tests rise (never decrease, none NaN), the bounds an activity
  // exceeds are a prefix, so their count is the loop's k (a NaN activity exceeds none: 0 both
  // ways). Counted as +(a > b) without branches, as measureSigmas does: the loop's branch
  // mispredicts about every other call (neighbouring samples' classes are unrelated).
  let rising = last === 5;
  for (let k = 1; rising && k < last; k++)
    rising = (bounds[k - 1] as number) <= (bounds[k] as number);
  if (rising) {
    const b0 = bounds[0] as number;
    const b1 = bounds[1] as number;
    const b2 = bounds[2] as number;
    const b3 = bounds[3] as number;
    const b4 = bounds[4] as number;
    return (activity) =>
      sigmas[
        +(activity > b0) + +(activity > b1) + +(activity > b2) + +(activity > b3) + +(activity > b4)
      ] as number;
  }
  return (activity) => {
    let k = 0;
    while (k < last && activity > (bounds[k] as number)) k++;
    return sigmas[k] as number;
  };
}

export function smallestSigma(model: PatternAwareSigma): number {
  return Math.min(...model.sigmas);
}

/**
 * Measures the noise sigma of each raster in `rasters` (from |value| 95th percentiles)
 * overall on bare wafers, or per class of pattern activity on patterned ones; the classes
 * are shared. Sigmas never fall below `floors[j]` and never fall as activity rises (busier
 * areas cannot be quieter), which keeps sparse classes sane.
 */
export function measureSigmas(
  rasters: Float32Array[],
  floors: number[],
  map: FloatMap,
  region: DiskRegion,
  latticeA: Vector | null,
  /** When given, only pixels where mask[i] === maskValue are measured (a zone of its own noise). */
  mask?: Uint8Array,
  maskValue = 1,
  /** activityMap(map), read instead of two 3x3 ranges per pattern activity (same values). */
  activity: ActivityMap | null = null,
  /**
   * When given, each sample is divided by its pixel's noise gain (gain[i] / gainUnit): the
   * rim ring's pixels compare with references of several kinds, and this measures their
   * common unit (stages/thresholds.ts).
   */
  gain: { values: Uint8Array; unit: number } | null = null,
): PatternAwareSigma[] {
  const capacity = sampleCapacity(region);
  // Kept between calls (detection is synchronous; a fresh half MB per call was zero-filled
  // and collected twice a detection): every entry read below is written first in this call.
  if (sigmaScratch.indices.length < capacity) sigmaScratch.indices = new Int32Array(capacity);
  const indices = sigmaScratch.indices;
  const { width, height } = map;
  const step = sampleStep(region);
  let n = 0;
  const yEnd = Math.min(height - 1, region.cy + region.r);
  const xEnd = Math.min(width - 1, region.cx + region.r);
  const r2 = region.r * region.r;
  for (let y = Math.max(1, Math.ceil(region.cy - region.r)); y < yEnd; y += step) {
    const dy = y - region.cy;
    for (let x = Math.max(1, Math.ceil(region.cx - region.r)); x < xEnd; x += step) {
      const dx = x - region.cx;
      const i = y * width + x;
      if (dx * dx + dy * dy < r2 && (!mask || mask[i] === maskValue)) indices[n++] = i;
    }
  }
  return sigmasOfSamples(rasters, floors, map, latticeA, indices, n, activity, gain);
}

/** A one-class model whose patternActivity reads a pixel's activity the way the class models will. */
function activityProbe(
  map: PatternAwareSigma["map"],
  activity: PatternAwareSigma["activity"],
  neighbourOffset: number,
): PatternAwareSigma {
  return {
    bounds: Float64Array.of(Number.POSITIVE_INFINITY),
    sigmas: Float64Array.of(0),
    neighbourOffset,
    map,
    activity,
  };
}

/**
 * measureSigmas of both zones of `mask` (mask 0, then mask 1 with the ring's gain): the same
 * models as its two calls, from one walk over the disk's sample grid where each call walked it
 * (the samples of each zone are the walk's pixels of that zone, in the walk's order either way).
 */
export function measureSigmasOfZones(
  rasters: Float32Array[],
  floors: number[],
  map: FloatMap,
  region: DiskRegion,
  latticeA: Vector | null,
  mask: Uint8Array,
  activity: ActivityMap | null,
  ringGain: { values: Uint8Array; unit: number } | null,
): [PatternAwareSigma[], PatternAwareSigma[], SampleGridActivity | null] {
  const capacity = sampleCapacity(region);
  if (sigmaScratch.indices.length < capacity) sigmaScratch.indices = new Int32Array(capacity);
  if (sigmaScratch.ringIndices.length < capacity)
    sigmaScratch.ringIndices = new Int32Array(capacity);
  const interior = sigmaScratch.indices;
  const ring = sigmaScratch.ringIndices;
  const { width, height, data } = map;
  let nInterior = 0;
  let nRing = 0;
  const yEnd = Math.min(height - 1, region.cy + region.r);
  const xEnd = Math.min(width - 1, region.cx + region.r);
  const r2 = region.r * region.r;
  const step = sampleStep(region);
  const x0 = Math.max(1, Math.ceil(region.cx - region.r));
  const y0 = Math.max(1, Math.ceil(region.cy - region.r));
  // On a patterned wafer each sample's pattern activity is taken here, once for both zones, in
  // the walk: the zones' models read it from their lists (sigmasOfSamples' `known`), and the
  // score tail reads it from the grid (score-tail.ts), where each had read the two ranges again.
  const neighbourOffset = latticeA ? Math.round(latticeA.y) * width + Math.round(latticeA.x) : 0;
  // The walk's columns and rows, counted by its own loops (no rounding to argue about).
  let columns = 0;
  for (let x = x0; x < xEnd; x += step) columns++;
  let rows = 0;
  for (let y = y0; y < yEnd; y += step) rows++;
  const grid =
    neighbourOffset !== 0 && columns > 0 && rows > 0
      ? sampleGridScratch(x0, y0, step, columns, rows)
      : null;
  const cells = grid?.activity;
  if (cells) {
    if (sigmaScratch.interiorActivity.length < capacity)
      sigmaScratch.interiorActivity = new Float64Array(capacity);
    if (sigmaScratch.ringActivity.length < capacity)
      sigmaScratch.ringActivity = new Float64Array(capacity);
  }
  const interiorActivity = sigmaScratch.interiorActivity;
  const ringActivity = sigmaScratch.ringActivity;
  // patternActivity's reads (its map branch when the map is whole, as sigmasOfSamples has it).
  const held = activity && activity.range.length === data.length ? activity : null;
  const size = data.length - width - 1;
  const probe = activityProbe(map, activity, neighbourOffset);
  for (let y = y0, row = 0; y < yEnd; y += step, row += columns) {
    const dy = y - region.cy;
    for (let x = x0, cell = row; x < xEnd; x += step, cell++) {
      const dx = x - region.cx;
      const i = y * width + x;
      if (dx * dx + dy * dy < r2) {
        // Written to both, kept by the zone it belongs to (a mask value other than 0 or 1
        // belongs to neither, as in measureSigmas).
        const m = mask[i];
        interior[nInterior] = i;
        ring[nRing] = i;
        if (cells) {
          const a = held
            ? smallerRange(
                rangeAt(data, width, size, held, i + neighbourOffset),
                rangeAt(data, width, size, held, i - neighbourOffset),
              )
            : patternActivity(probe, i);
          cells[cell] = a;
          interiorActivity[nInterior] = a;
          ringActivity[nRing] = a;
        }
        nInterior += +(m === 0);
        nRing += +(m === 1);
      } else if (cells) cells[cell] = Number.NaN;
    }
  }
  // The interior's models are built (fresh arrays) before the ring's samples reuse the scratch.
  const inside = sigmasOfSamples(
    rasters,
    floors,
    map,
    latticeA,
    interior,
    nInterior,
    activity,
    null,
    cells ? interiorActivity : null,
  );
  const outside = sigmasOfSamples(
    rasters,
    floors,
    map,
    latticeA,
    ring,
    nRing,
    activity,
    ringGain,
    cells ? ringActivity : null,
  );
  return [inside, outside, grid];
}

/**
 * The pattern activity (patternActivity with the map's lattice and activity map) at each cell of
 * the disk's sample grid: cell (column, row) is the pixel (x0 + column step, y0 + row step);
 * NaN at the cells the walk took no sample at (off the disk). Held in scratch: valid until the
 * next measureSigmasOfZones call (detection is synchronous).
 */
export interface SampleGridActivity {
  x0: number;
  y0: number;
  step: number;
  columns: number;
  rows: number;
  activity: Float64Array;
}

function sampleGridScratch(
  x0: number,
  y0: number,
  step: number,
  columns: number,
  rows: number,
): SampleGridActivity {
  const cells = columns * rows;
  if (sigmaScratch.gridActivity.length < cells) sigmaScratch.gridActivity = new Float64Array(cells);
  // Every cell is written by the walk (NaN off the disk).
  const activity = sigmaScratch.gridActivity.subarray(0, cells);
  return { x0, y0, step, columns, rows, activity };
}

/** The disk's sample grid: every step-th pixel each way, about 220 across the disk. */
function sampleStep(region: DiskRegion): number {
  return Math.max(1, Math.floor(region.r / 110));
}

function sampleCapacity(region: DiskRegion): number {
  return Math.ceil((2 * region.r) / sampleStep(region) + 2) ** 2;
}

/** measureSigmas from its samples' pixel indices (indices[0 .. n)). */
function sigmasOfSamples(
  rasters: Float32Array[],
  floors: number[],
  map: FloatMap,
  latticeA: Vector | null,
  indices: Int32Array,
  n: number,
  activity: ActivityMap | null,
  gain: { values: Uint8Array; unit: number } | null,
  /** The samples' pattern activities when the caller took them (the same values), else null. */
  known: Float64Array | null = null,
): PatternAwareSigma[] {
  const { width } = map;
  const neighbourOffset = latticeA ? Math.round(latticeA.y) * width + Math.round(latticeA.x) : 0;
  const probe = activityProbe(map, activity, neighbourOffset);
  let bounds = Float64Array.of(Number.POSITIVE_INFINITY);
  const classes = latticeA && n >= CLASSES * 200 ? CLASSES : 1;
  if (sigmaScratch.values.length < n) {
    sigmaScratch.classOf = new Uint8Array(n);
    sigmaScratch.values = new Float64Array(n);
    sigmaScratch.slot = new Int32Array(n);
  }
  // One class: every sample is in class 0 (the loop below that classes them does not run).
  const classOf = sigmaScratch.classOf.subarray(0, n);
  if (classes === 1) classOf.fill(0);
  // The samples' pattern activities, then (once classed) their magnitudes in class order.
  const values = sigmaScratch.values.subarray(0, n);
  if (classes > 1) {
    const sampleActivity = values;
    const { data } = map;
    if (known) sampleActivity.set(known.subarray(0, n));
    else if (activity && activity.range.length === data.length && neighbourOffset !== 0) {
      // patternActivity's map branch without its per-call checks: same reads, same values.
      const size = data.length - width - 1;
      for (let j = 0; j < n; j++) {
        const i = indices[j] as number;
        sampleActivity[j] = smallerRange(
          rangeAt(data, width, size, activity, i + neighbourOffset),
          rangeAt(data, width, size, activity, i - neighbourOffset),
        );
      }
    } else {
      for (let j = 0; j < n; j++) sampleActivity[j] = patternActivity(probe, indices[j] as number);
    }
    // The class bounds are order statistics: selected exactly, without sorting all of them
    // (the selection leaves the activities in their order).
    const ranks = Array.from({ length: CLASSES - 1 }, (_, k) =>
      Math.floor(((k + 1) / CLASSES) * (n - 1)),
    );
    bounds = new Float64Array(CLASSES);
    bounds.set(selectRanksOfMagnitudes(sampleActivity, n, ranks));
    bounds[CLASSES - 1] = Number.POSITIVE_INFINITY;
    // A sample's class is the number of bounds below its activity: the bounds are order
    // statistics at rising ranks (never decreasing) and activities are never NaN (0 where no
    // neighbour range is finite), so once a bound is not below it none further is, and that
    // count equals the while loop's first bound not below it. Counted as +(a > b), which V8
    // compiles without branches (a ternary or a loop over the bounds keeps a mispredicted
    // branch per sample: neighbouring samples' classes are unrelated); for the class count
    // DETECTION sets, with the loop kept for any other.
    if (CLASSES === 6) {
      const b0 = bounds[0] as number;
      const b1 = bounds[1] as number;
      const b2 = bounds[2] as number;
      const b3 = bounds[3] as number;
      const b4 = bounds[4] as number;
      for (let j = 0; j < n; j++) {
        const a = sampleActivity[j] as number;
        classOf[j] = +(a > b0) + +(a > b1) + +(a > b2) + +(a > b3) + +(a > b4);
      }
    } else {
      for (let j = 0; j < n; j++) {
        let k = 0;
        while (k < CLASSES - 1 && (sampleActivity[j] as number) > (bounds[k] as number)) k++;
        classOf[j] = k;
      }
    }
  }
  // Samples ordered by class (a stable counting sort; order within a class does not change an
  // order statistic): each sample's slot in that order, so that each raster is read in pixel
  // order (a stream through memory, where reading it in class order jumped about the map)
  // and its magnitudes land in one array, a class per slice.
  const counts = new Int32Array(classes);
  for (let j = 0; j < n; j++)
    counts[classOf[j] as number] = (counts[classOf[j] as number] as number) + 1;
  const starts = new Int32Array(classes + 1);
  for (let k = 0; k < classes; k++) starts[k + 1] = (starts[k] as number) + (counts[k] as number);
  const next = starts.slice(0, classes);
  const slot = sigmaScratch.slot.subarray(0, n);
  for (let j = 0; j < n; j++) {
    const k = classOf[j] as number;
    slot[j] = next[k] as number;
    next[k] = (next[k] as number) + 1;
  }
  // The overall sigma stands in for a class of under 100 samples, and is the only one on a
  // bare wafer; when every class has its 100, it is never read and not measured.
  const needsGlobal = classes === 1 || Array.from(counts).some((c) => c < 100);
  // Two rasters (the thresholds' score and residual) are gathered in one pass over the samples,
  // each sample's pixel, slot and gain read once for both: the same magnitude in each slot.
  const pair = rasters.length === 2;
  if (pair && sigmaScratch.second.length < n) sigmaScratch.second = new Float64Array(n);
  if (pair)
    gatherMagnitudesOfTwo(
      rasters[0] as Float32Array,
      rasters[1] as Float32Array,
      indices,
      slot,
      n,
      values,
      sigmaScratch.second,
      gain,
    );
  return rasters.map((raster, r) => {
    const magnitudes = pair ? (r === 0 ? values : sigmaScratch.second.subarray(0, n)) : values;
    if (!pair) gatherMagnitudes(raster, indices, slot, n, magnitudes, gain);
    const floor = floors[r] ?? 0;
    // The selections never reorder `magnitudes`, so the class slices below read it as filled.
    const global = needsGlobal
      ? Math.max(floor, quantileOfMagnitudes(magnitudes, n, 0.95) * Q95_TO_SIGMA)
      : Number.NaN;
    const sigmas = new Float64Array(classes);
    let running = floor;
    for (let k = 0; k < classes; k++) {
      const bucket = magnitudes.subarray(starts[k] as number, starts[k + 1] as number);
      // One class is the whole sample: its sigma is the overall one, measured once.
      const sigma =
        classes > 1 && bucket.length >= 100
          ? quantileOfMagnitudes(bucket, bucket.length, 0.95) * Q95_TO_SIGMA
          : global;
      running = Math.max(running, classes === 1 ? global : sigma);
      sigmas[k] = running;
    }
    return { bounds, sigmas, neighbourOffset, map, activity };
  });
}

/**
 * measureSigmas' samples of one raster: |raster| at each sample's pixel (divided by the pixel's
 * noise gain over its unit when given), written at the sample's slot in class order.
 */
function gatherMagnitudes(
  raster: Float32Array,
  indices: Int32Array,
  slot: Int32Array,
  n: number,
  magnitudes: Float64Array,
  gain: { values: Uint8Array; unit: number } | null,
): void {
  if (gain)
    for (let j = 0; j < n; j++) {
      const i = indices[j] as number;
      magnitudes[slot[j] as number] =
        (gain.unit * Math.abs(raster[i] as number)) / Math.max(1, gain.values[i] as number);
    }
  else
    for (let j = 0; j < n; j++)
      magnitudes[slot[j] as number] = Math.abs(raster[indices[j] as number] as number);
}

/** gatherMagnitudes of two rasters in one pass: each value by the same expression. */
function gatherMagnitudesOfTwo(
  first: Float32Array,
  second: Float32Array,
  indices: Int32Array,
  slot: Int32Array,
  n: number,
  firstMagnitudes: Float64Array,
  secondMagnitudes: Float64Array,
  gain: { values: Uint8Array; unit: number } | null,
): void {
  if (gain) {
    const unit = gain.unit;
    const gains = gain.values;
    for (let j = 0; j < n; j++) {
      const i = indices[j] as number;
      const at = slot[j] as number;
      const divisor = Math.max(1, gains[i] as number);
      firstMagnitudes[at] = (unit * Math.abs(first[i] as number)) / divisor;
      secondMagnitudes[at] = (unit * Math.abs(second[i] as number)) / divisor;
    }
  } else
    for (let j = 0; j < n; j++) {
      const i = indices[j] as number;
      const at = slot[j] as number;
      firstMagnitudes[at] = Math.abs(first[i] as number);
      secondMagnitudes[at] = Math.abs(second[i] as number);
    }
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

/**
 * How much heavier than a Gaussian the tail of `residual` is, measured where it matters for
 * single-pixel seeds: the |residual| quantile DETECTION.pixelTailQuantile over its 95th
 * percentile, each in units of what a Gaussian gives (3.29 and 1.96 sigma), never below 1.
 * Pixels whose eight neighbours (binomial weights, centre left out) stand out are left out:
 * an extended defect or stain is not noise, while an isolated noise extreme, the thing
 * the pixel seed must not fire on, keeps quiet neighbours and stays in the sample.
 * The sample is pixelTailSample's: about pixelTailSampleCount() pixels spread over the disk.
 */
export function pixelTailFactor(map: FloatMap, residual: Float32Array, region: DiskRegion): number {
  const { width } = map;
  const sample = pixelTailSample(map.width, map.height, region, tailScratch);
  const n = sample.length;
  if (n < 1000) return 1;
  // Scratch kept between calls (detection is synchronous): |centre| is a float32 value, held
  // exactly in a Float32Array; |around| is a double.
  const centre = tailScratch.centre.length >= n ? tailScratch.centre : new Float32Array(n);
  const aroundAbs = tailScratch.around.length >= n ? tailScratch.around : new Float64Array(n);
  tailScratch.centre = centre;
  tailScratch.around = aroundAbs;
  for (let j = 0; j < n; j++) {
    const i = sample[j] as number;
    const edges =
      (residual[i - 1] as number) +
      (residual[i + 1] as number) +
      (residual[i - width] as number) +
      (residual[i + width] as number);
    const corners =
      (residual[i - width - 1] as number) +
      (residual[i - width + 1] as number) +
      (residual[i + width - 1] as number) +
      (residual[i + width + 1] as number);
    centre[j] = Math.abs(residual[i] as number);
    aroundAbs[j] = Math.abs((2 * edges + corners) / 12);
  }
  const aroundSigma = quantileOfMagnitudes(aroundAbs, n, 0.95) * Q95_TO_SIGMA;
  // The quiet samples, compacted in place at the front of `centre` (never ahead of the reads).
  const cut = DETECTION.growSigmas * aroundSigma;
  // Without a branch: each value is written at the front's next place and kept there (the
  // place moves on) only when it is quiet; a place at or before k was read already. Whether a
  // sample is quiet is random from one sample to the next, so a branch mispredicted often.
  let m = 0;
  for (let k = 0; k < n; k++) {
    centre[m] = centre[k] as number;
    m += +((aroundAbs[k] as number) < cut);
  }
  if (m < 1000) return 1;
  // Both quantiles from one histogram pass over the sample.
  const [tailQuantile, bodyQuantile] = quantilesOfMagnitudes(centre, m, [
    DETECTION.pixelTailQuantile,
    0.95,
  ]) as [number, number];
  const tail = tailQuantile / DETECTION.pixelTailGaussianSigmas;
  const body = bodyQuantile * Q95_TO_SIGMA;
  return body > 0 ? Math.max(1, tail / body) : 1;
}

/**
 * How many samples the pixel tail needs (thresholds.ts PIXEL_TAIL): the n at which the
 * quantile DETECTION.pixelTailQuantile of |Gaussian noise| has the relative standard error
 * PIXEL_TAIL.relativeError, SE = sqrt(p (1 - p) / n) / f(x_p) with f(x) = 2 phi(x): 72,800.
 */
export function pixelTailSampleCount(): number {
  const p = DETECTION.pixelTailQuantile;
  const x = DETECTION.pixelTailGaussianSigmas;
  const density = (2 * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI);
  return Math.ceil((p * (1 - p)) / (PIXEL_TAIL.relativeError * x * density) ** 2);
}

/**
 * The pixel tail's sample, as map indices in row order of its cells: the disk's bounding square
 * (pixels with all eight neighbours on the map) cut into square cells of side s, whole pixels
 * each ([floor(k s), floor((k + 1) s)) from the square's corner), s chosen so that the disk
 * holds pixelTailSampleCount() cells, and one pixel at a seeded random place in each cell,
 * kept when it lies inside the disk (a cell the rim cuts keeps its pixel as often as it lies
 * inside). Stratified: every part of the disk holds its share of the sample, and the places
 * are never in step with a die pattern or 8 px JPEG blocks as a regular grid's can be. A disk of
 * at most that many pixels gives every one of its pixels (s = 1). Deterministic: the same
 * disk and map give the same pixels (PIXEL_TAIL.sampleSeed).
 */
export function pixelTailSample(
  width: number,
  height: number,
  region: DiskRegion,
  /** Where to keep the sample between calls (grown when too small); a new array when not given. */
  scratch?: { sample: Int32Array },
): Int32Array {
  const { cx, cy, r } = region;
  const r2 = r * r;
  const xFirst = Math.max(1, Math.ceil(cx - r));
  const yFirst = Math.max(1, Math.ceil(cy - r));
  // Exclusive ends: the last pixel with a neighbour on each side, and the disk's edge.
  const xEnd = Math.min(width - 1, Math.ceil(cx + r));
  const yEnd = Math.min(height - 1, Math.ceil(cy + r));
  if (xEnd <= xFirst || yEnd <= yFirst) return new Int32Array(0);
  const side = Math.max(1, Math.sqrt((Math.PI * r2) / pixelTailSampleCount()));
  const columns = Math.ceil((xEnd - xFirst) / side);
  const rows = Math.ceil((yEnd - yFirst) / side);
  // Cell k spans [edge(k), edge(k + 1)) from the first pixel: at least one pixel since side >= 1.
  const columnEdge = new Int32Array(columns + 1);
  for (let k = 0; k <= columns; k++) columnEdge[k] = Math.min(xEnd - xFirst, Math.floor(k * side));
  let out = scratch?.sample ?? new Int32Array(0);
  if (out.length < columns * rows) out = new Int32Array(columns * rows);
  if (scratch) scratch.sample = out;
  let n = 0;
  for (let row = 0; row < rows; row++) {
    const top = Math.floor(row * side);
    const tall = Math.min(yEnd - yFirst, Math.floor((row + 1) * side)) - top;
    // Cells wholly beside the disk are passed over (their pixel would be dropped): the columns
    // within one cell of the disk's widest chord across this row of cells.
    const nearest = Math.min(Math.max(cy, yFirst + top), yFirst + top + tall - 1);
    const half = Math.sqrt(Math.max(0, r2 - (nearest - cy) ** 2));
    const from = Math.max(0, Math.floor((cx - half - xFirst) / side) - 1);
    const to = Math.min(columns, Math.ceil((cx + half - xFirst) / side) + 1);
    for (let column = from; column < to; column++) {
      const left = columnEdge[column] as number;
      const wide = (columnEdge[column + 1] as number) - left;
      // The cell's own number of the seeded stream, its two 16-bit halves the place across and down.
      const bits = seededUint32At(PIXEL_TAIL.sampleSeed, row * columns + column);
      const x = xFirst + left + (((bits >>> 16) * wide) >>> 16);
      const y = yFirst + top + (((bits & 0xffff) * tall) >>> 16);
      const dx = x - cx;
      const dy = y - cy;
      if (dx * dx + dy * dy < r2) out[n++] = y * width + x;
    }
  }
  return out.subarray(0, n);
}

/**
 * pixelTailFactor's sample and its values, grown to the largest sample seen (about 1.3 MB: the
 * sample is about 73,000 pixels of about 93,000 cells at any size).
 */
/** measureSigmas' per-sample arrays, grown to the largest sample seen (about 0.7 MB at 2048 px). */
const sigmaScratch = {
  indices: new Int32Array(0),
  classOf: new Uint8Array(0),
  values: new Float64Array(0),
  slot: new Int32Array(0),
  /** The second raster's magnitudes, when two are measured (gathered in the same pass). */
  second: new Float64Array(0),
  /** measureSigmasOfZones' ring samples (the interior's are `indices`). */
  ringIndices: new Int32Array(0),
  /** measureSigmasOfZones' pattern activities: per zone sample, and per cell of the grid. */
  interiorActivity: new Float64Array(0),
  ringActivity: new Float64Array(0),
  gridActivity: new Float64Array(0),
};

const tailScratch = {
  sample: new Int32Array(0),
  centre: new Float32Array(0),
  around: new Float64Array(0),
};
