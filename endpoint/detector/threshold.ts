// Detection thresholds that follow the die pattern: score noise measured apart on flat and busy die areas.

import type { Vector } from "./lattice.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { quantileOfMagnitudes, selectRanksOfMagnitudes } from "./select.ts";
import { type ActivityMap, patternActivity, rangeAt, smallerRange } from "./threshold-activity.ts";
import { DETECTION } from "./thresholds.ts";

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

const CLASSES = DETECTION.activityClasses;
const Q95_TO_SIGMA = DETECTION.q95ToSigma;

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
