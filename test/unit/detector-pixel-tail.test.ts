// The pixel seed's tail sample (threshold-pixel-tail.ts pixelTailSample): its size from the tail quantile's standard error, stratified over the disk, seeded.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { quantileOfMagnitudes, quantilesOfMagnitudes } from "../../endpoint/detector/select.ts";
import {
  pixelTailFactor,
  pixelTailSample,
  pixelTailSampleCount,
} from "../../endpoint/detector/threshold-pixel-tail.ts";
import { DETECTION, PIXEL_TAIL } from "../../endpoint/detector/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

const inside = (width: number, region: { cx: number; cy: number; r: number }) => (i: number) => {
  const x = i % width;
  const y = Math.floor(i / width);
  return (x - region.cx) ** 2 + (y - region.cy) ** 2 < region.r ** 2;
};

describe("pixel tail sample size (thresholds.ts PIXEL_TAIL)", () => {
  it("is the n at which the 1e-3 tail quantile of |Gaussian| has the relative error asked for", () => {
    const n = pixelTailSampleCount();
    assert.equal(n, 72_802);
    // Back from n: SE(q_p) / q_p = sqrt(p (1 - p) / n) / (f(x_p) x_p), f(x) = 2 phi(x).
    const p = DETECTION.pixelTailQuantile;
    const x = DETECTION.pixelTailGaussianSigmas;
    const f = (2 * Math.exp(-(x * x) / 2)) / Math.sqrt(2 * Math.PI);
    const relative = Math.sqrt((p * (1 - p)) / n) / (f * x);
    assert.ok(relative <= PIXEL_TAIL.relativeError && relative > 0.9999 * PIXEL_TAIL.relativeError);
  });
});

describe("pixel tail sample (threshold-pixel-tail.ts pixelTailSample)", () => {
  const width = 1000;
  const height = 960;
  const region = { cx: 500.3, cy: 470.8, r: 420.6 };

  it("holds about the derived count, each pixel once, inside the disk with all 8 neighbours", () => {
    const sample = pixelTailSample(width, height, region);
    const wanted = pixelTailSampleCount();
    assert.ok(Math.abs(sample.length - wanted) < 0.01 * wanted, `${sample.length} samples`);
    assert.equal(new Set(sample).size, sample.length);
    const isInside = inside(width, region);
    for (const i of sample) {
      const x = i % width;
      const y = Math.floor(i / width);
      assert.ok(isInside(i) && x >= 1 && x <= width - 2 && y >= 1 && y <= height - 2);
    }
  });

  it("gives the same pixels every time (seeded), also into a kept array grown or reused", () => {
    const first = Array.from(pixelTailSample(width, height, region));
    assert.deepEqual(Array.from(pixelTailSample(width, height, region)), first);
    const kept = { sample: new Int32Array(5) };
    assert.deepEqual(Array.from(pixelTailSample(width, height, region, kept)), first);
    const grown = kept.sample;
    assert.ok(grown.length >= first.length);
    assert.deepEqual(Array.from(pixelTailSample(width, height, region, kept)), first);
    assert.equal(kept.sample, grown);
  });

  it("is stratified: every 30 x 30 block inside the disk holds its share, every pixel phase is drawn", () => {
    const sample = pixelTailSample(width, height, region);
    const side = Math.sqrt((Math.PI * region.r ** 2) / pixelTailSampleCount());
    const perBlock = new Map<number, number>();
    const phases = new Set<number>();
    for (const i of sample) {
      const x = i % width;
      const y = Math.floor(i / width);
      const block = Math.floor(y / 30) * 1000 + Math.floor(x / 30);
      perBlock.set(block, (perBlock.get(block) ?? 0) + 1);
      phases.add((y % 8) * 8 + (x % 8));
    }
    const isInside = inside(width, region);
    let blocks = 0;
    for (let by = 0; by < Math.floor(height / 30); by++) {
      for (let bx = 0; bx < Math.floor(width / 30); bx++) {
        const corners = [
          [0, 0],
          [29, 0],
          [0, 29],
          [29, 29],
        ].map(([dx, dy]) => (by * 30 + (dy as number)) * width + bx * 30 + (dx as number));
        if (!corners.every(isInside)) continue;
        blocks++;
        // Whole cells inside the block give one pixel each; cut cells at its sides one or none.
        const count = perBlock.get(by * 1000 + bx) ?? 0;
        assert.ok(
          count >= (Math.floor(30 / side) - 1) ** 2 && count <= (Math.ceil(30 / side) + 1) ** 2,
          `block (${bx}, ${by}): ${count}`,
        );
      }
    }
    assert.ok(blocks > 400);
    // Not in step with 8 px blocks (JPEG) or any shorter period: all 64 phases occur.
    assert.equal(phases.size, 64);
  });

  it("takes every pixel of a disk smaller than the count", () => {
    const small = { cx: 100.5, cy: 90.2, r: 140.3 };
    const sample = pixelTailSample(260, 250, small);
    const all: number[] = [];
    for (let y = 1; y < 249; y++)
      for (let x = 1; x < 259; x++) if (inside(260, small)(y * 260 + x)) all.push(y * 260 + x);
    assert.deepEqual(
      Array.from(sample).sort((a, b) => a - b),
      all,
    );
  });
});

describe("pixel tail factor on the stratified sample", () => {
  const size = 820;
  // A disk whose old regular grid (every 2nd pixel, from an even first column) saw only even columns.
  const region = { cx: 410, cy: 410, r: 400 };
  const map = (data: Float32Array): FloatMap => ({ width: size, height: size, scale: 2, data });

  it("sees a heavy tail that lies on odd columns only (a regular grid in step missed it)", () => {
    const random = seededRandom(31);
    const residual = Float32Array.from({ length: size * size }, (_, i) => {
      const noise = 2 * standardNormal(random);
      // 2% of the odd columns' pixels (1% of all) are 12 sigma outliers.
      return (i % size) % 2 === 1 && random() < 0.02 ? 24 * Math.sign(noise || 1) : noise;
    });
    const factor = pixelTailFactor(map(residual), residual, region);
    assert.ok(factor > 2, `factor ${factor}`);
  });

  it("stays at 1 within its standard error on Gaussian noise", () => {
    for (const seed of [32, 33, 34]) {
      const random = seededRandom(seed);
      const residual = Float32Array.from({ length: size * size }, () => 2 * standardNormal(random));
      const factor = pixelTailFactor(map(residual), residual, region);
      // 3 standard errors of the tail quantile over the body's (1% and 0.35%).
      assert.ok(factor >= 1 && factor < 1.035, `seed ${seed}: factor ${factor}`);
    }
  });

  it("gives the factor of its version with the quiet samples kept by a branch (branch speed12)", () => {
    // pixelTailFactor as it was before speed12: the quiet samples compacted by an if.
    const plainFactor = (residual: Float32Array): number => {
      const sample = pixelTailSample(size, size, region);
      const n = sample.length;
      const centre = new Float32Array(n);
      const aroundAbs = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        const i = sample[j] as number;
        const at = (k: number) => residual[k] as number;
        const edges = at(i - 1) + at(i + 1) + at(i - size) + at(i + size);
        const corners = at(i - size - 1) + at(i - size + 1) + at(i + size - 1) + at(i + size + 1);
        centre[j] = Math.abs(at(i));
        aroundAbs[j] = Math.abs((2 * edges + corners) / 12);
      }
      const cut =
        DETECTION.growSigmas * quantileOfMagnitudes(aroundAbs, n, 0.95) * DETECTION.q95ToSigma;
      let m = 0;
      for (let k = 0; k < n; k++)
        if ((aroundAbs[k] as number) < cut) centre[m++] = centre[k] as number;
      if (m < 1000) return 1;
      const [tail, body] = quantilesOfMagnitudes(centre, m, [
        DETECTION.pixelTailQuantile,
        0.95,
      ]) as [number, number];
      const bodySigma = body * DETECTION.q95ToSigma;
      return bodySigma > 0 ? Math.max(1, tail / DETECTION.pixelTailGaussianSigmas / bodySigma) : 1;
    };
    // Heavy tails of lone pixels (kept: quiet neighbours) and of blotches (left out), JPEG-like
    // zeros, and a residual whose every sample is loud but one in three (too few quiet ones).
    const random = seededRandom(35);
    const residuals = [0.005, 0.02, 0.08].map((share) =>
      Float32Array.from({ length: size * size }, (_, i) => {
        const noise = 2 * standardNormal(random);
        const blotch = Math.floor(i / size) % 37 < 3 && i % 41 < 4 ? 30 : 0;
        return random() < share ? 18 * Math.sign(noise || 1) : random() < 0.2 ? 0 : noise + blotch;
      }),
    );
    const factors = residuals.map((residual) => pixelTailFactor(map(residual), residual, region));
    for (const [k, residual] of residuals.entries())
      assert.ok(Object.is(factors[k], plainFactor(residual)), `factor ${factors[k]}`);
    assert.ok(
      factors.some((f) => f > 1.5),
      `a heavy tail read: ${factors}`,
    );
  });
});
