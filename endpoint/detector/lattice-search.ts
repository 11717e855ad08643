// One wafer's lattice search: the coarse map it starts on and the sample point sets its axes, candidates and orientations share.
import type { PointSet } from "./lattice-projections.ts";
import { type ShiftSamples, samplePoints, withBaseValues } from "./lattice-shift-cost.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { LATTICE_SEARCH } from "./thresholds.ts";

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

/** How far (px of the map fitted on, per axis) a fit may move from its start. */
export const FIT_MOVE = 2;

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
export function samplesFor(
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
