// The die-difference noise on dies too fine for its gate: read along both lattice vectors, the lower (tighter) bound kept.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { type DiskRegion, estimateDieDifferenceNoise } from "../../endpoint/detector/noise.ts";
import { binomialBlur3 } from "../../endpoint/detector/raster.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

const size = 400;
const region: DiskRegion = { cx: 200, cy: 200, r: 190 };
const level = 1000;
const noiseSigma = 4;
/** White noise through the binomial 3x3 smoothing keeps 0.375 of its sigma. */
const smoothedSigma = 0.375 * noiseSigma;

/** The length of [from, to) inside the pixel [x, x + 1). */
const overlap = (x: number, from: number, to: number) =>
  Math.max(0, Math.min(to, x + 1) - Math.max(from, x));

/** Coverage of the periodic intervals [start + k pitch, end + k pitch) inside the pixel [x, x + 1). */
function periodicCoverage(x: number, pitch: number, intervals: [number, number][]): number {
  let sum = 0;
  const first = Math.floor(x / pitch) - 1;
  for (let k = first; k <= first + 2; k++) {
    for (const [start, end] of intervals) sum += overlap(x, start + k * pitch, end + k * pitch);
  }
  return sum;
}

/**
 * A fine die grid (pitch `pitch` map px on both axes, fractional, so each die's edges fall at
 * another sub-pixel phase) of exact area coverage, as a camera integrates it: streets 1.5 px
 * wide at 90% of the level, and inside each die vertical motif lines 1.5 px wide every 3 px at
 * `lineContrast` (the spec allows any motif layout), white noise of sigma 4, then the stage's
 * binomial smoothing.
 */
function fineDieMap(pitch: number, lineContrast: number, seed: number): Float32Array {
  const street: [number, number][] = [[0, 1.5]];
  const lines: [number, number][] = [];
  for (let start = 3.5; start + 1.5 < pitch - 0.5; start += 3) lines.push([start, start + 1.5]);
  const random = seededRandom(seed);
  const raw = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const streetY = periodicCoverage(y, pitch, street);
    for (let x = 0; x < size; x++) {
      const streetX = periodicCoverage(x, pitch, street);
      const dieArea = (1 - streetX) * (1 - streetY);
      const lineArea = periodicCoverage(x, pitch, lines) * (1 - streetY);
      raw[y * size + x] =
        level * (1 - 0.1 * (1 - dieArea)) +
        lineContrast * lineArea +
        noiseSigma * standardNormal(random);
    }
  }
  const smooth = new Float32Array(size * size);
  binomialBlur3(raw, size, size, smooth);
  return smooth;
}

describe("die-difference noise on the finest dies", () => {
  const pitch = 16.42;
  const a = { x: pitch, y: 0 };
  const b = { x: 0, y: pitch };

  it("reads the noise, not the motif's misregistration, whichever lattice vector comes first", () => {
    // Lines at 15 noise sigmas: every sample's 3x3 range holds a line edge, so no gate passes;
    // pairs along a (across the lines) misregister every edge by 0.42 px, pairs along b do not.
    const map = fineDieMap(pitch, 15 * noiseSigma, 24);
    const first = estimateDieDifferenceNoise(map, size, size, region, a, b);
    const swapped = estimateDieDifferenceNoise(map, size, size, region, b, a);
    assert.ok(
      Math.abs(first / smoothedSigma - 1) < 0.12,
      `estimate ${first}, smoothed noise ${smoothedSigma}`,
    );
    // The same lower direction is kept either way; the second reading samples a quarter of the
    // grid (DIE_DIFFERENCE_SECOND_READING), so the two agree to its sampling error, not exactly.
    assert.ok(Math.abs(swapped / first - 1) < 0.03, `first ${first}, swapped ${swapped}`);
  });

  it("is unchanged where the gate passes (no motif): the noise along a alone", () => {
    const map = fineDieMap(pitch, 0, 25);
    const sigma = estimateDieDifferenceNoise(map, size, size, region, a, b);
    assert.ok(
      Math.abs(sigma / smoothedSigma - 1) < 0.08,
      `estimate ${sigma}, smoothed noise ${smoothedSigma}`,
    );
  });
});
