// The die-to-die allowance bounds its references' linear-interpolation error (die-to-die-allowance.ts boundInterpolationError): a narrow dark street on a half-integer or turned map pitch no longer reads as voids, and a particle beside the street keeps its residual.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { dieToDieResidual } from "../../endpoint/detector/die-to-die.ts";
import { anchorOf, boundInterpolationError } from "../../endpoint/detector/die-to-die-allowance.ts";
import type { Vector } from "../../endpoint/detector/lattice.ts";
import { PAIR_DIFFERENCE_GAIN } from "../../endpoint/detector/noise.ts";
import { binomialBlur3 } from "../../endpoint/detector/raster.ts";
import { DETECTION, INTERPOLATION_ERROR } from "../../endpoint/detector/thresholds.ts";
import { seededRandom } from "../../lib/random.ts";

const SIZE = 260;
const LEVEL = 1000;
// A dark street 1.5 map px wide (3 image px binned 2 x 2) at 20% under the level, as the
// street of round 27's wafers; noise 0.35% of the level (0.7% per image px, binned).
const STREET_WIDTH = 1.1;
const STREET_CONTRAST = -200;
const NOISE = 3.5;
// Dies 20 map px along x (whole) and 16.5 along y: the worst fraction for the references
// sampled along b, a + b and a - b, and consecutive street rows at alternate sub-pixel phases.
const A: Vector = { x: 20, y: 0 };
const B: Vector = { x: 0, y: 16.5 };
const REGION = { cx: 130, cy: 130, r: 118 };
const SIGMA = DETECTION.binomialNoiseGain * NOISE;
const PAIR_SIGMA = PAIR_DIFFERENCE_GAIN * SIGMA;

interface Spot {
  x: number;
  y: number;
  radius: number;
  contrast: number;
}

/** Exact area coverage of [from, from + 1) by the streets (one per die row along y). */
function streetCoverage(from: number): number {
  let covered = 0;
  for (let k = 0; k < 512; k++) {
    const v = (from + (k + 0.5) / 512 - REGION.cy) / B.y;
    if ((v - Math.floor(v)) * B.y < STREET_WIDTH) covered++;
  }
  return covered / 512;
}

/** The comparison's map: streets by exact coverage, noise, an optional spot, the stage's smoothing. */
function streetMap(spot: Spot | null, seed = 5): Float32Array {
  const coverY = Float64Array.from({ length: SIZE }, (_, y) => streetCoverage(y));
  const random = seededRandom(seed);
  const raw = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const gaussian =
        Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()) * NOISE;
      let value = LEVEL + STREET_CONTRAST * (coverY[y] as number) + gaussian;
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
      raw[y * SIZE + x] = value;
    }
  const smooth = new Float32Array(SIZE * SIZE);
  binomialBlur3(raw, SIZE, SIZE, smooth);
  return smooth;
}

function compare(data: Float32Array) {
  const map = { width: SIZE, height: SIZE, scale: 1, data };
  const residual = new Float32Array(SIZE * SIZE);
  const edgeMask = new Uint8Array(SIZE * SIZE);
  dieToDieResidual(map, A, B, REGION, REGION.r + 4, SIGMA, residual, edgeMask);
  const before = residual.slice();
  const lowered = boundInterpolationError(
    map,
    A,
    B,
    REGION,
    SIGMA,
    INTERPOLATION_ERROR.gatePairSigmas * PAIR_SIGMA,
    edgeMask,
    residual,
  );
  return { before, after: residual, edgeMask, lowered };
}

/** Interior pixels on street rows: how many read at least `sigmas` pair sigmas, and the largest. */
function streetReading(values: Float32Array, edgeMask: Uint8Array, sigmas: number) {
  let count = 0;
  let peak = 0;
  for (let y = 0; y < SIZE; y++) {
    if (streetCoverage(y) === 0 && streetCoverage(y - 1) === 0 && streetCoverage(y + 1) === 0)
      continue;
    for (let x = 0; x < SIZE; x++) {
      const i = y * SIZE + x;
      if (edgeMask[i] !== 0 || Math.hypot(x - REGION.cx, y - REGION.cy) > REGION.r) continue;
      const v = Math.abs(values[i] as number) / PAIR_SIGMA;
      if (v >= sigmas) count++;
      peak = Math.max(peak, v);
    }
  }
  return { count, peak };
}

/** The largest |value| within `reach` px of (x, y), in pair sigmas. */
function peakNear(values: Float32Array, x: number, y: number, reach: number): number {
  let peak = 0;
  for (let j = Math.floor(y - reach); j <= y + reach; j++)
    for (let i = Math.floor(x - reach); i <= x + reach; i++)
      peak = Math.max(peak, Math.abs(values[j * SIZE + i] as number));
  return peak / PAIR_SIGMA;
}

/**
 * A lattice turned off the pixel grid: dark streets 1.1 px wide along a (one per die row along
 * b), by area coverage on a 4 x 4 grid per pixel, noise, spots, the stage's smoothing.
 */
function turnedMap(a: Vector, b: Vector, spots: Spot[], seed = 7): Float32Array {
  const det = a.x * b.y - a.y * b.x;
  // The street's width across a, in units of the b coordinate.
  const widthInV = STREET_WIDTH / (Math.abs(det) / Math.hypot(a.x, a.y));
  const random = seededRandom(seed);
  const raw = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      let covered = 0;
      for (let sy = 0; sy < 4; sy++)
        for (let sx = 0; sx < 4; sx++) {
          const dx = x + (sx + 0.5) / 4 - REGION.cx;
          const dy = y + (sy + 0.5) / 4 - REGION.cy;
          const v = (a.x * dy - a.y * dx) / det;
          if (v - Math.floor(v) < widthInV) covered++;
        }
      const gaussian =
        Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()) * NOISE;
      let value = LEVEL + (STREET_CONTRAST * covered) / 16 + gaussian;
      for (const spot of spots)
        if (Math.hypot(x + 0.5 - spot.x, y + 0.5 - spot.y) <= spot.radius) value += spot.contrast;
      raw[y * SIZE + x] = value;
    }
  const smooth = new Float32Array(SIZE * SIZE);
  binomialBlur3(raw, SIZE, SIZE, smooth);
  return smooth;
}

/** The comparison on lattice (a, b): the kernel's residual, then the bound applied. */
function compareOn(data: Float32Array, a: Vector, b: Vector, gate: number) {
  const map = { width: SIZE, height: SIZE, scale: 1, data };
  const residual = new Float32Array(SIZE * SIZE);
  const edgeMask = new Uint8Array(SIZE * SIZE);
  dieToDieResidual(map, a, b, REGION, REGION.r + 4, SIGMA, residual, edgeMask);
  const before = residual.slice();
  const lowered = boundInterpolationError(map, a, b, REGION, SIGMA, gate, edgeMask, residual);
  return { before, after: residual, edgeMask, lowered };
}

/** Interior pixels inside the region reading at least `sigmas` pair sigmas. */
function overGate(values: Float32Array, edgeMask: Uint8Array, sigmas: number): number {
  let count = 0;
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const i = y * SIZE + x;
      if (edgeMask[i] !== 0 || Math.hypot(x - REGION.cx, y - REGION.cy) > REGION.r) continue;
      if (Math.abs(values[i] as number) / PAIR_SIGMA >= sigmas) count++;
    }
  return count;
}

describe("die-to-die allowance: the references' interpolation error", () => {
  it("takes most of a narrow street's leftover off its rows on a half-integer map pitch", () => {
    const { before, after, edgeMask, lowered } = compare(streetMap(null));
    // Without the term (the kernel's residual): every second street row reads as a line of
    // voids, 10-15 pair sigmas along most of its length.
    const old = streetReading(before, edgeMask, 10);
    assert.ok(old.count > 800, `street pixels at 10 pair sigmas before: ${old.count}`);
    assert.ok(old.peak > 14, `peak before ${old.peak}`);
    // With it: under 2% of those pixels still reach 10, and under a third reach 8. Not all of
    // the leftover goes: this street is sharp (no optical blur, which the spec allows down to
    // none), and a trough narrower than a pixel curves more than its samples' second
    // differences show (docs/detector-recall.md round 31 measures what is left on the tuning
    // wafers); where noise makes the anchor disagree, a pixel keeps its residual.
    const now = streetReading(after, edgeMask, 10);
    assert.ok(now.count < 0.02 * old.count, `street pixels at 10 pair sigmas after: ${now.count}`);
    const eight = streetReading(after, edgeMask, 8).count;
    assert.ok(eight < streetReading(before, edgeMask, 8).count / 3, `at 8 after: ${eight}`);
    assert.ok(lowered >= old.count);
  });

  it("forgives none of a particle's contrast beside, on the edge of or on a street", () => {
    // A dark 3 px particle at 11 noise sigmas: off the street, on its edge, on its centre (a
    // deep row, where the leftover is largest).
    for (const y of [134.5, 132, 130.75]) {
      const spot = { x: 100.5, y, radius: 1.5, contrast: -40 };
      const { before, after } = compare(streetMap(spot));
      const was = peakNear(before, spot.x, y, 2);
      assert.ok(was > 20, `particle at y ${y} before: ${was} pair sigmas`);
      assert.equal(peakNear(after, spot.x, y, 2), was, `particle at y ${y}`);
    }
  });

  it("anchors each axis on its least coefficient, however turned the lattice", () => {
    // Seed 20261525's 1/wafer-043 (grid turned 1.78 deg): across y the least coefficient is
    // 0.265 of the largest, which the old bar (a quarter) refused; it is still the direction
    // nearest the pixel's own phase.
    assert.equal(anchorOf([0.1166, 0.0327, 0.1232, 0.105]), 1);
    assert.equal(anchorOf([0.105, 0.1178, 0.0368, 0.1088]), 2);
    assert.equal(anchorOf([0, 0.125, 0.125, 0.125]), 0);
    // A whole-pixel axis: no direction samples between pixels, nothing to bound.
    assert.equal(anchorOf([0, 0, 0, 0]), -1);
  });

  it("on a turned lattice lowers streets' leftovers and forgives none of a particle", () => {
    // Turned so that a, b, a + b and a - b all fall 0.3-0.4 px off whole across y (the least
    // coefficient 0.31 of the largest), whole across x: the case the old bar gave no term.
    const a: Vector = { x: 20, y: 1.3 };
    const b: Vector = { x: -1, y: 16.62 };
    const gate = INTERPOLATION_ERROR.gatePairSigmas * PAIR_SIGMA;
    const clean = compareOn(turnedMap(a, b, []), a, b, gate);
    const before = overGate(clean.before, clean.edgeMask, 5);
    assert.ok(before > 30, `street pixels at 5 pair sigmas before: ${before}`);
    assert.ok(clean.lowered > 0, "no pixel lowered");
    const after = overGate(clean.after, clean.edgeMask, 5);
    assert.ok(after < before, `at 5 pair sigmas: ${before} before, ${after} after`);
    for (let i = 0; i < SIZE * SIZE; i++)
      assert.ok(Math.abs(clean.after[i] as number) <= Math.abs(clean.before[i] as number), `${i}`);
    // Dark 3 px particles off a street, on its edge and on its centre keep their whole peak.
    const spots = [
      { x: 100.5, y: 139.5, radius: 1.5, contrast: -40 },
      { x: 160.5, y: 133.1, radius: 1.5, contrast: -40 },
      { x: 70.5, y: 126.7, radius: 1.5, contrast: -40 },
    ];
    const spotted = compareOn(turnedMap(a, b, spots), a, b, gate);
    for (const spot of spots) {
      const was = peakNear(spotted.before, spot.x, spot.y, 2);
      assert.ok(was > 15, `particle at ${spot.x},${spot.y} before: ${was} pair sigmas`);
      assert.equal(peakNear(spotted.after, spot.x, spot.y, 2), was, `${spot.x},${spot.y}`);
    }
  });

  it("changes nothing on a whole-pixel lattice (no sample between pixels)", () => {
    const data = streetMap(null);
    const map = { width: SIZE, height: SIZE, scale: 1, data };
    const whole: Vector = { x: 0, y: 17 };
    const residual = new Float32Array(SIZE * SIZE);
    const edgeMask = new Uint8Array(SIZE * SIZE);
    dieToDieResidual(map, A, whole, REGION, REGION.r + 4, SIGMA, residual, edgeMask);
    const before = residual.slice();
    const gate = INTERPOLATION_ERROR.gatePairSigmas * PAIR_SIGMA;
    assert.equal(
      boundInterpolationError(map, A, whole, REGION, SIGMA, gate, edgeMask, residual),
      0,
    );
    assert.deepEqual(residual, before);
  });
});
