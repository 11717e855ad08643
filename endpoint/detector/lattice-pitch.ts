// Candidate die pitches along one lattice axis: a lag scan of the shift cost, rough then confirmed, and its near-best local minima.
import type { Vector } from "./lattice.ts";
import { type LatticeSearch, latticeSearch, samplesFor } from "./lattice-search.ts";
import { lagCosts } from "./lattice-shift-cost.ts";
import type { DiskRegion } from "./noise.ts";
import type { FloatMap } from "./raster.ts";
import { LATTICE } from "./thresholds.ts";

/** Lags whose rough cost is within this share of (median - min) of the best are priced again. */
const SHORTLIST_SHARE = 0.4;

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
