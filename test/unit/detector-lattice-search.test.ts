// The cheaper lattice search (lattice.ts: rough lag scan, coarse-then-fine refinement) finds what pricing every shift on the full point set finds.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  pitchCandidates,
  refineVector,
  samplePoints,
  shiftCost,
  type Vector,
} from "../../endpoint/detector/lattice.ts";
import { type FloatMap, sampleBilinear } from "../../endpoint/detector/raster.ts";
import { LATTICE } from "../../endpoint/detector/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

const size = 420;
const region = { cx: 210, cy: 210, r: 200 };

/** A die grid turned by `angleDeg`: dark streets, a bright block per die, Gaussian noise. */
function turnedGrid(pitch: number, angleDeg: number, noise: number, seed: number): FloatMap {
  const random = seededRandom(seed);
  const gaussian = () => standardNormal(random);
  const c = Math.cos((angleDeg * Math.PI) / 180);
  const s = Math.sin((angleDeg * Math.PI) / 180);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (((x * c + y * s) % pitch) + pitch) % pitch;
      const v = (((-x * s + y * c) % pitch) + pitch) % pitch;
      const street = u < 3 || v < 3;
      const block = u > 9 && u < 19 && v > 7 && v < 21;
      data[y * size + x] = (street ? 600 : block ? 1150 : 1000) + noise * gaussian();
    }
  }
  return { width: size, height: size, scale: 1, data };
}

function fullSamples(map: FloatMap, reach: number, target: number) {
  const points = samplePoints(region, reach, target, map);
  const base = Float64Array.from(points.xs, (x, i) =>
    sampleBilinear(map.data, map.width, map.height, x, points.ys[i] as number),
  );
  return { ...points, base };
}

/** The search as it was before: every lag priced on 3000 points, the same candidate rule. */
function referenceCandidates(map: FloatMap, unit: Vector, lo: number, hi: number): number[] {
  const samples = fullSamples(map, hi + 2, 3000);
  const step = Math.max(0.5, Math.min(1, (hi - lo) / 60));
  const lags: number[] = [];
  for (let lag = lo; lag <= hi; lag += step) lags.push(lag);
  const costs = lags.map((lag) => shiftCost(map, samples, { x: unit.x * lag, y: unit.y * lag }));
  const sorted = [...costs].sort((a, b) => a - b);
  const min = sorted[0] as number;
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  const accept = min + LATTICE.nearBestShare * (median - min);
  const found: number[] = [];
  for (let i = 0; i < costs.length && found.length < LATTICE.maxCandidates; i++) {
    const c = costs[i] as number;
    const left = costs[i - 1] ?? Number.POSITIVE_INFINITY;
    const right = costs[i + 1] ?? Number.POSITIVE_INFINITY;
    if (c > accept || c > left || c > right) continue;
    const denom = left - 2 * c + right;
    const shift =
      Number.isFinite(denom) && denom > 0
        ? Math.max(-0.5, Math.min(0.5, (0.5 * (left - right)) / denom))
        : 0;
    found.push((lags[i] as number) + shift * step);
  }
  return found;
}

/** Halving-step pattern search on 5000 points from 0.5 px down, as refineVector was before. */
function referenceRefine(map: FloatMap, start: Vector): Vector {
  const samples = fullSamples(map, Math.hypot(start.x, start.y) + 2, 5000);
  let best = { ...start };
  let bestCost = shiftCost(map, samples, best);
  for (let delta = 0.5; delta > 0.02; delta /= 2) {
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
        const cost = shiftCost(map, samples, candidate);
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

describe("lattice search on a rough point set first", () => {
  for (const [pitch, angleDeg, noise] of [
    [31, 7, 6],
    [24.5, -3, 20],
    [40, 0.4, 2],
  ] as const) {
    it(`finds the full scan's pitch candidates and vector (pitch ${pitch}, ${angleDeg} deg, noise ${noise})`, () => {
      const map = turnedGrid(pitch, angleDeg, noise, 11);
      const unit = {
        x: Math.cos((angleDeg * Math.PI) / 180),
        y: Math.sin((angleDeg * Math.PI) / 180),
      };
      const candidates = pitchCandidates(map, region, unit, 8, 60);
      const reference = referenceCandidates(map, unit, 8, 60);
      // Shortlisted lags are priced on the same points as before: the same numbers exactly.
      assert.deepEqual(candidates, reference);
      assert.ok(Math.abs((candidates[0] as number) - pitch) < 0.5, `first ${candidates[0]}`);

      const start = {
        x: unit.x * (candidates[0] as number),
        y: unit.y * (candidates[0] as number),
      };
      const refined = refineVector(map, region, start);
      const full = referenceRefine(map, start);
      // The fine steps (1/16 and 1/32 px) run on the full point set: at most a fine step apart.
      assert.ok(
        Math.abs(refined.x - full.x) <= 0.0625 + 1e-9 &&
          Math.abs(refined.y - full.y) <= 0.0625 + 1e-9,
        `refined ${JSON.stringify(refined)} against ${JSON.stringify(full)}`,
      );
      const truth = { x: unit.x * pitch, y: unit.y * pitch };
      // The grid is drawn without antialiasing: its staircases leave the best shift a little off.
      assert.ok(
        Math.hypot(refined.x - truth.x, refined.y - truth.y) < 0.25,
        `refined ${JSON.stringify(refined)} against the drawn ${JSON.stringify(truth)}`,
      );
    });
  }
});
