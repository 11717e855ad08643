// The line seed (line-seed.ts): a thin line under both per-pixel seeds is seeded along its length; noise and plateaus are not.
import { describe, expect, it } from "vitest";
import { familySigmas, gaussianUpperTail, lineSeeds } from "../../endpoint/detector/line-seed.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import { binomialBlur3 } from "../../endpoint/detector/raster.ts";
import { type Blob, hysteresisBlobs, type Thresholds } from "../../endpoint/detector/segment.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

const size = 400;
const region: DiskRegion = { cx: 200, cy: 200, r: 190 };
/** White residual noise of sigma 1, smoothed once: the score's sigma (DETECTION.binomialNoiseGain). */
const scoreSigma = DETECTION.binomialNoiseGain;
/** Every map pixel as a line-seed candidate: lineSeeds applies its own candidate test. */
const everyPixel = Int32Array.from({ length: size * size }, (_, i) => i);

/** A residual of white noise (sigma 1) with `draw` added, and its binomial-smoothed score. */
function scoreMap(seed: number, draw: (x: number, y: number) => number) {
  const random = seededRandom(seed);
  const residual = new Float32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) residual[y * size + x] = standardNormal(random) + draw(x, y);
  const score = new Float32Array(size * size);
  binomialBlur3(residual, size, size, score);
  return { residual, score };
}

/** A 1 px line of `contrast` through (cx, cy) at `deg`, `length` px long (a tent 2 px wide at its foot). */
function line(cx: number, cy: number, deg: number, length: number, contrast: number) {
  const ux = Math.cos((deg * Math.PI) / 180);
  const uy = Math.sin((deg * Math.PI) / 180);
  return (x: number, y: number) => {
    const along = (x - cx) * ux + (y - cy) * uy;
    const across = Math.abs(-(x - cx) * uy + (y - cy) * ux);
    return Math.abs(along) > length / 2 ? 0 : contrast * Math.max(0, 1 - across);
  };
}

/** The detector's seed and grow rules at a uniform noise sigma, with or without the line seed. */
function thresholds(residual: Float32Array, withLine: boolean): Thresholds {
  const high = DETECTION.seedSigmas * scoreSigma;
  const low = DETECTION.growSigmas * scoreSigma;
  const pixelHigh = DETECTION.pixelSeedSigmas;
  return {
    minHigh: high,
    minLow: low,
    high: () => high,
    low: () => low,
    pixelSeed: {
      residual,
      min: pixelHigh,
      high: () => pixelHigh,
      minPixels: DETECTION.pixelSeedMinPixels,
    },
    ...(withLine
      ? {
          lineSeed: {
            sigmaAt: () => scoreSigma,
            minSigma: scoreSigma,
            floor: 0,
            pattern: null,
            lattice: null,
          },
        }
      : {}),
  };
}

function pixelsNear(blobs: Blob[], near: (x: number, y: number) => boolean): number {
  let n = 0;
  for (const b of blobs) for (const p of b.pixels) if (near(p % size, Math.floor(p / size))) n++;
  return n;
}

describe("line seed", () => {
  it("counts the directions' multiple testing in its threshold", () => {
    expect(gaussianUpperTail(6)).toBeCloseTo(9.866e-10, 12);
    expect(familySigmas(6, 1)).toBeCloseTo(6, 6);
    const z = familySigmas(6, 12);
    expect(12 * gaussianUpperTail(z)).toBeCloseTo(gaussianUpperTail(6), 12);
    expect(z).toBeGreaterThan(6.3);
    expect(z).toBeLessThan(6.5);
  });

  it("seeds a thin line whose pixels stay under both per-pixel seeds", () => {
    // 2.8 sigma at its centre line, 160 px long at 30 degrees: smoothed, it peaks at about 0.6
    // of the seed threshold and unsmoothed at 0.43 of the pixel seed's (both checked on the
    // noiseless line), so the per-pixel seeds find it only where noise lifts a pixel far enough.
    const onLine = line(200, 200, 30, 160, 2.8);
    const clean = new Float32Array(size * size);
    for (let i = 0; i < clean.length; i++) clean[i] = onLine(i % size, Math.floor(i / size));
    const smoothed = new Float32Array(size * size);
    binomialBlur3(clean, size, size, smoothed);
    expect(smoothed.reduce((m, v) => Math.max(m, v), 0)).toBeLessThan(
      0.7 * DETECTION.seedSigmas * scoreSigma,
    );
    expect(clean.reduce((m, v) => Math.max(m, v), 0)).toBeLessThan(
      0.45 * DETECTION.pixelSeedSigmas,
    );
    const near = (x: number, y: number) => {
      const along = (x - 200) * Math.cos(Math.PI / 6) + (y - 200) * Math.sin(Math.PI / 6);
      const across = -(x - 200) * Math.sin(Math.PI / 6) + (y - 200) * Math.cos(Math.PI / 6);
      return Math.abs(across) <= 2 && Math.abs(along) <= 82;
    };
    let foundWithout = 0;
    for (let seed = 11; seed <= 20; seed++) {
      const { residual, score } = scoreMap(seed, onLine);
      const without = hysteresisBlobs(score, size, size, region, thresholds(residual, false));
      if (pixelsNear(without, near) > 0) foundWithout++;
      const blobs = hysteresisBlobs(score, size, size, region, thresholds(residual, true));
      // The ordinary seeds' blobs are the same with the line seed as without ...
      expect(blobs.filter((b) => !b.lineSeeded)).toEqual(without);
      // ... and the line seed takes part of the line on every noise draw, and nothing away from it.
      expect(pixelsNear(blobs, near), `seed ${seed}`).toBeGreaterThanOrEqual(20);
      const lineOnly = blobs.filter((b) => b.lineSeeded);
      expect(pixelsNear(lineOnly, (x, y) => !near(x, y))).toBeLessThanOrEqual(4);
    }
    // Without it, the line is found on half of these draws at most (5 of these 10).
    expect(foundWithout).toBeLessThanOrEqual(5);
  });

  it("seeds nothing on noise alone, nor on a plateau under the seed", () => {
    for (const seed of [3, 4]) {
      const { score } = scoreMap(seed, () => 0);
      expect(seedsOn(score, {})).toEqual([]);
    }
    // A round plateau of 2 sigma per pixel (5.3 score sigmas, under the seed's 6): its interior
    // and its edge have no ridge, so a line statistic must not seed it.
    const plateau = (x: number, y: number) => (Math.hypot(x - 200, y - 200) < 40 ? 2 : 0);
    const { score } = scoreMap(5, plateau);
    expect(seedsOn(score, {})).toEqual([]);
  });

  /** lineSeeds on a score map with the detector's uniform-noise thresholds. */
  function seedsOn(
    score: Float32Array,
    extra: {
      pattern?: Float32Array;
      lattice?: [{ x: number; y: number }, { x: number; y: number }];
    },
  ) {
    return lineSeeds({
      score,
      width: size,
      height: size,
      region,
      sigmaAt: () => scoreSigma,
      minSigma: scoreSigma,
      floor: 0,
      pattern: extra.pattern ?? null,
      lattice: extra.lattice ?? null,
      visited: new Uint8Array(size * size),
      minLow: DETECTION.growSigmas * scoreSigma,
      low: () => DETECTION.growSigmas * scoreSigma,
      candidates: everyPixel,
    });
  }

  it("leaves a line that recurs pitches away in the die grid (a street line), not a lone one", () => {
    // Two equal lines 2 pitches apart along b (a reticle field's boundary street repeats so).
    const lattice: [{ x: number; y: number }, { x: number; y: number }] = [
      { x: 60, y: 0 },
      { x: 0, y: 60 },
    ];
    const first = line(200, 140, 30, 100, 3.5);
    const second = line(200, 260, 30, 100, 3.5);
    const { score } = scoreMap(21, (x, y) => first(x, y) + second(x, y));
    expect(seedsOn(score, {}).length).toBeGreaterThan(10);
    expect(seedsOn(score, { lattice })).toEqual([]);
    // One line alone: its copies read noise, and it is seeded with the lattice given too.
    const { score: lone } = scoreMap(21, first);
    expect(seedsOn(lone, { lattice }).length).toBeGreaterThan(10);
  });

  it("leaves a ridge along a pattern edge no larger than the misregistration it leaves", () => {
    const onLine = line(200, 200, 30, 140, 3.5);
    const { score } = scoreMap(22, onLine);
    // The compared map steps by 40 across the line (one side bright): a quarter of that (what
    // the allowance leaves) outweighs the line's ridge. On flat pattern the line is seeded.
    const edge = new Float32Array(size * size);
    const flat = new Float32Array(size * size);
    const [ux, uy] = [Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)];
    for (let i = 0; i < edge.length; i++) {
      const x = i % size;
      const y = Math.floor(i / size);
      edge[i] = -(x - 200) * uy + (y - 200) * ux > 0 ? 40 : 0;
    }
    expect(seedsOn(score, { pattern: flat }).length).toBeGreaterThan(10);
    expect(seedsOn(score, { pattern: edge })).toEqual([]);
  });

  it("takes no segment that reaches into a blob already found (a particle is not a line)", () => {
    // A bright 3 x 3 spot (a particle, its blob found) and a noise peak 6 px from it: the 15 px
    // segment from the peak through the spot has a mean far past the line's threshold.
    const spot = (x: number, y: number) =>
      Math.abs(x - 200) <= 1 && Math.abs(y - 200) <= 1 ? 40 : 0;
    const { score } = scoreMap(23, spot);
    const peak = 200 * size + 206;
    score[peak] = 8 * scoreSigma;
    const spotBlob = new Uint8Array(size * size);
    for (let y = 198; y <= 202; y++) for (let x = 198; x <= 202; x++) spotBlob[y * size + x] = 1;
    const args = {
      score,
      width: size,
      height: size,
      region,
      sigmaAt: () => scoreSigma,
      minSigma: scoreSigma,
      floor: 0,
      pattern: null,
      lattice: null,
      minLow: DETECTION.growSigmas * scoreSigma,
      low: () => DETECTION.growSigmas * scoreSigma,
      candidates: Int32Array.of(peak),
    };
    // Were the spot not a blob yet, the segment through it would seed ...
    expect(lineSeeds({ ...args, visited: new Uint8Array(size * size) }).length).toBe(1);
    // ... as it is one, the segment measures the spot, and nothing is seeded.
    expect(lineSeeds({ ...args, visited: spotBlob })).toEqual([]);
  });
});
