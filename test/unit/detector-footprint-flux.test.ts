// The allowance judged over a footprint (die-to-die-footprint.ts): a one-signed spot on dense motif lines gets back what the per-pixel allowance took; shifted motif detail, a die's own level and a clean pattern keep their allowance.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { dieToDieResidual } from "../../endpoint/detector/die-to-die.ts";
import { restoreOneSignedFootprints } from "../../endpoint/detector/die-to-die-footprint.ts";
import { shiftBounds } from "../../endpoint/detector/die-to-die-footprint-reader.ts";
import type { Vector } from "../../endpoint/detector/lattice.ts";
import { binomialBlur3 } from "../../endpoint/detector/raster.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { seededRandom } from "../../lib/random.ts";

const SIZE = 400;
const LEVEL = 1000;
// Motif lines 3 px wide every 6 px at 6% of the level, noise 0.5% of it: a die's detail 12
// noise sigmas deep, its edges at every die's own sub-pixel phase.
const LINES = 60;
const LINE_PERIOD = 6;
const NOISE = 5;
// A fractional lattice: every die is drawn at its own sub-pixel phase, as a camera sees them.
// Axis-aligned, so each pixel's area coverage of the motif is exact (separable in x and y):
// supersampling would add a quantisation of the coverage that differs from die to die.
const A: Vector = { x: 24.37, y: 0 };
const B: Vector = { x: 0, y: 23.71 };
const REGION = { cx: 200, cy: 200, r: 185 };
const DET = A.x * B.y - A.y * B.x;

interface Spot {
  x: number;
  y: number;
  radius: number;
  contrast: number;
}

/** Die coordinates (u, v) of an image point: p = u A + v B about the disk's centre. */
function dieCoordinates(px: number, py: number): { u: number; v: number } {
  const x = px - REGION.cx;
  const y = py - REGION.cy;
  return { u: (x * B.y - y * B.x) / DET, v: (A.x * y - A.y * x) / DET };
}

/**
 * A patterned map as the comparison sees it: dies on the lattice, each with a block of bright
 * motif lines, area-sampled by 4 x 4 supersampling, Gaussian noise, the stage's binomial smoothing.
 * `spot` adds a disk (area-sampled) of the given signed contrast; `dieLevel` offsets the whole
 * die with the given indices (a reticle field's die).
 */
function patternedMap(
  spot: Spot | null,
  dieLevel: { i: number; j: number; offset: number } | null = null,
): Float32Array {
  // Exact 1D coverages (fine sampling of a 1 px interval): the motif's lines along x, the
  // block's extent along y.
  const coverage = (from: number, inside: (s: number) => boolean) => {
    let n = 0;
    for (let k = 0; k < 512; k++) if (inside(from + (k + 0.5) / 512)) n++;
    return n / 512;
  };
  const coverX = Float64Array.from({ length: SIZE }, (_, x) =>
    coverage(x, (px) => {
      const u = (px - REGION.cx) / A.x;
      const fu = u - Math.floor(u);
      return fu > 0.1 && fu < 0.9 && (fu * A.x) % LINE_PERIOD < LINE_PERIOD / 2;
    }),
  );
  const coverY = Float64Array.from({ length: SIZE }, (_, y) =>
    coverage(y, (py) => {
      const v = (py - REGION.cy) / B.y;
      const fv = v - Math.floor(v);
      return fv > 0.1 && fv < 0.9;
    }),
  );
  const random = seededRandom(11);
  const raw = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const gaussian =
        Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()) * NOISE;
      let value = LEVEL + LINES * (coverX[x] as number) * (coverY[y] as number) + gaussian;
      if (spot && Math.hypot(x + 0.5 - spot.x, y + 0.5 - spot.y) < spot.radius + 1) {
        let inSpot = 0;
        for (let sy = 0; sy < 16; sy++)
          for (let sx = 0; sx < 16; sx++)
            if (
              Math.hypot(x + (sx + 0.5) / 16 - spot.x, y + (sy + 0.5) / 16 - spot.y) <= spot.radius
            )
              inSpot++;
        value += (spot.contrast * inSpot) / 256;
      }
      if (dieLevel) {
        const { u, v } = dieCoordinates(x + 0.5, y + 0.5);
        if (Math.floor(u) === dieLevel.i && Math.floor(v) === dieLevel.j) value += dieLevel.offset;
      }
      raw[y * SIZE + x] = value;
    }
  const smooth = new Float32Array(SIZE * SIZE);
  binomialBlur3(raw, SIZE, SIZE, smooth);
  return smooth;
}

const SIGMA = DETECTION.binomialNoiseGain * NOISE;

function compare(data: Float32Array) {
  const map = { width: SIZE, height: SIZE, scale: 1, data };
  const residual = new Float32Array(SIZE * SIZE);
  const edgeMask = new Uint8Array(SIZE * SIZE);
  dieToDieResidual(map, A, B, REGION, REGION.r + 4, SIGMA, residual, edgeMask);
  const before = residual.slice();
  const outcome = restoreOneSignedFootprints(map, A, B, REGION, SIGMA, edgeMask, residual);
  return { before, after: residual, outcome };
}

/** The largest |value| within `reach` px of (x, y). */
function peakNear(values: Float32Array, x: number, y: number, reach: number): number {
  let peak = 0;
  for (let j = Math.floor(y - reach); j <= y + reach; j++)
    for (let i = Math.floor(x - reach); i <= x + reach; i++)
      peak = Math.max(peak, Math.abs(values[j * SIZE + i] as number));
  return peak;
}

/** A point on a motif line's edge in the die (i, j). */
function onEdge(i: number, j: number): { x: number; y: number } {
  const u = i + (2 * LINE_PERIOD) / A.x;
  const v = j + 0.5;
  return { x: REGION.cx + u * A.x + v * B.x, y: REGION.cy + u * A.y + v * B.y };
}

describe("footprint flux (die-to-die-footprint.ts)", () => {
  it("bounds a pair's second differences by the blur of its fractions and the test die's phase", () => {
    const phase = DETECTION.samplingPhaseShare;
    assert.deepEqual(shiftBounds({ x: 24, y: -3 }), {
      alpha: 0.5 * phase,
      beta: 0.5 * phase,
      gamma: phase,
    });
    const half = shiftBounds({ x: 10.5, y: 2.5 });
    assert.equal(half.alpha, 0.5 * (0.25 + phase));
    assert.equal(half.beta, 0.5 * (0.25 + phase));
  });

  it("gives back what the allowance took from a 3 px spot on a motif line's edge", () => {
    // The spec's smallest particle (3 px across) at 12 raw noise sigmas, dark, on a line's edge.
    const at = onEdge(1, 0);
    const spot = { x: at.x, y: at.y, radius: 1.5, contrast: -12 * NOISE };
    const withSpot = patternedMap(spot);
    const { before, after, outcome } = compare(withSpot);
    // What the spot alone puts into the smoothed map (the same noise drawn without it).
    const clean = patternedMap(null);
    const full = peakNear(
      withSpot.map((v, n) => v - (clean[n] as number)),
      at.x,
      at.y,
      2,
    );
    const old = peakNear(before, at.x, at.y, 2);
    const restored = peakNear(after, at.x, at.y, 2);
    assert.ok(old < 0.7 * full, `the old allowance left ${old} of ${full}`);
    assert.equal(outcome.restored, 1, JSON.stringify(outcome));
    // More than half of what the allowance took comes back (the rest is the statistic's noise
    // margin and the shift model's bound).
    assert.ok(restored > old + 0.5 * (full - old), `restored ${restored} of ${full} (old ${old})`);
    // Only the spot's footprint changed.
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++)
        if (Math.max(Math.abs(x - at.x), Math.abs(y - at.y)) > 4)
          assert.equal(after[y * SIZE + x], before[y * SIZE + x], `changed at ${x},${y}`);
  });

  it("keeps the allowance on clean motif lines sampled at every die's own phase", () => {
    const { before, after, outcome } = compare(patternedMap(null));
    assert.ok(outcome.threshold > 0, "the statistic's noise was not measured");
    assert.equal(outcome.restored, 0);
    assert.deepEqual(after, before);
  });

  it("keeps the allowance where a whole die stands at another level (a reticle field's die)", () => {
    // 1.5% of the level (the spec's +-0.75% either side), 15 raw noise sigmas, over one die.
    const { before, after, outcome } = compare(
      patternedMap(null, { i: 1, j: 0, offset: 0.015 * LEVEL }),
    );
    assert.equal(outcome.restored, 0);
    assert.deepEqual(after, before);
  });
});
