// speed16's faster paths (otsu's four partial histograms, the overview's means scaled in the kernel, the working map's buffer left unzeroed, the rim fit's sums in the kernel) give the plain versions' bits.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { bin2AndBlockMeansKernel, useFrameKernels } from "../../endpoint/detector/frame-passes.ts";
import { quantileInPlace, selectKth } from "../../endpoint/detector/raster.ts";
import { fitRimShape } from "../../endpoint/detector/rim.ts";
import { quantileOfMagnitudes, selectKthMagnitude } from "../../endpoint/detector/select.ts";
import { workingMap, workingMapSize, workingScale } from "../../endpoint/detector/stages/input.ts";
import { otsu, workingMapAndOverview } from "../../endpoint/quality/disk.ts";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";

/** otsu as written before speed16: one histogram, one count per value. */
function plainOtsu(data: Float32Array): { threshold: number; low: number; high: number } {
  const bins = 256;
  const counts = new Int32Array(bins);
  for (let i = 0; i < data.length; i++) {
    const x = (data[i] as number) * bins;
    const b = x >= 0 && x < bins ? x | 0 : Math.min(bins - 1, Math.max(0, Math.floor(x)));
    counts[b] = (counts[b] as number) + 1;
  }
  const hist = Float64Array.from(counts);
  const total = data.length;
  let sumAll = 0;
  for (let b = 0; b < bins; b++) sumAll += b * (hist[b] as number);
  let weightLow = 0;
  let sumLow = 0;
  let best = -1;
  let bestBin = 0;
  for (let b = 0; b < bins - 1; b++) {
    weightLow += hist[b] as number;
    sumLow += b * (hist[b] as number);
    const weightHigh = total - weightLow;
    if (weightLow === 0 || weightHigh === 0) continue;
    const meanLow = sumLow / weightLow;
    const meanHigh = (sumAll - sumLow) / weightHigh;
    const between = weightLow * weightHigh * (meanLow - meanHigh) ** 2;
    if (between > best) {
      best = between;
      bestBin = b;
    }
  }
  if (best < 0) {
    const mean = (sumAll / Math.max(1, total) + 0.5) / bins;
    return { threshold: mean, low: mean, high: mean };
  }
  let wl = 0;
  let sl = 0;
  for (let b = 0; b <= bestBin; b++) {
    wl += hist[b] as number;
    sl += b * (hist[b] as number);
  }
  const wh = total - wl;
  const low = wl > 0 ? (sl / wl + 0.5) / bins : 0;
  const high = wh > 0 ? ((sumAll - sl) / wh + 0.5) / bins : 1;
  return { threshold: (bestBin + 1) / bins, low, high };
}

function sameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    if (!Object.is(actual[i], expected[i]))
      assert.fail(`${what}: value ${i} is ${actual[i]}, expected ${expected[i]}`);
}

describe("otsu's four partial histograms (quality/disk.ts)", () => {
  /** Two levels with noise (a chuck and a wafer), runs of one bin, the clamps' ends and NaNs. */
  function values(length: number, seed: number, nanAt: number[]): Float32Array {
    const random = seededRandom(seed);
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      const u = random();
      out[i] =
        u < 0.05
          ? -0.2 * random()
          : u < 0.1
            ? 1 + 0.3 * random()
            : u < 0.55
              ? 0.2 + 0.01 * Math.floor(random() * 3)
              : 0.7 + 0.05 * random();
    }
    for (const at of nanAt) if (at < length) out[at] = Number.NaN;
    if (length > 3) out.set([0, 1, -0], length - 3);
    return out;
  }
  // Every remainder of the four-wide loop, a NaN in each lane and in the remainder.
  const cases: Array<[number, number[]]> = [
    [0, []],
    [1, [0]],
    [2, []],
    [3, [2]],
    [5, [4]],
    [6, []],
    [7, [1, 6]],
    [64, []],
    [4097, [0, 1, 2, 3, 4096]],
    [4098, [5]],
    [4099, [4098]],
    [4100, [2, 3]],
  ];
  for (const [length, nanAt] of cases) {
    it(`gives the one-histogram split to the bit (${length} values, NaN at ${nanAt.join(",") || "none"})`, () => {
      const data = values(length, length + 3, nanAt);
      assert.deepEqual(otsu(data), plainOtsu(data));
    });
  }
  it("gives the one-level answer when every value is in one bin", () => {
    const data = new Float32Array(4003).fill(0.4);
    assert.deepEqual(otsu(data), plainOtsu(data));
  });
});

describe("the overview's block means scaled in the kernel (frame-passes.ts)", () => {
  /** Frames whose block sums round differently to float32: full-scale values, ones, zeros, noise. */
  function frame(width: number, height: number, bitDepth: 8 | 16, seed: number): GrayImage {
    const random = seededRandom(seed);
    const top = bitDepth === 8 ? 255 : 65535;
    const data = bitDepth === 8 ? new Uint8Array(width * height) : new Uint16Array(width * height);
    for (let i = 0; i < data.length; i++) {
      const u = random();
      data[i] = u < 0.1 ? top : u < 0.15 ? 1 : u < 0.2 ? 0 : Math.floor(random() * (top + 1));
    }
    return { width, height, bitDepth, data };
  }
  // Factor 3 on a 2 x 2 map (the one-pass path), even and odd block counts per band.
  const sizes: Array<[number, number, 8 | 16]> = [
    [1536, 1541, 8],
    [1605, 1539, 16],
    [1607, 1600, 8],
  ];
  for (const [width, height, bitDepth] of sizes) {
    it(`gives scaleInto's float32 of every block sum times norm (${width}x${height}, ${bitDepth} bit)`, () => {
      const image = frame(width, height, bitDepth, width * 3 + height);
      const factor = Math.floor(Math.min(width, height) / 512);
      assert.equal(factor, 3);
      const norm = 1 / (factor * factor * fullScale(image));
      const map = new Float32Array(Math.floor(width / 2) * Math.floor(height / 2));
      const means = bin2AndBlockMeansKernel(image, map, factor, norm);
      assert.ok(means, "the kernel ran");
      // The plain sums: every block's pixels added as whole numbers, times norm, as float32.
      const expected = new Float32Array(means.width * means.height);
      for (let by = 0; by < means.height; by++)
        for (let bx = 0; bx < means.width; bx++) {
          let sum = 0;
          for (let dy = 0; dy < factor; dy++)
            for (let dx = 0; dx < factor; dx++)
              sum += image.data[(by * factor + dy) * width + bx * factor + dx] as number;
          expected[by * means.width + bx] = sum * norm;
        }
      sameBits(means.data, expected, "overview");
    });
  }
});

// Wafers of one map size after one another with the buffer kept: detector-fast-paths.test.ts.
describe("detect's working map in its kept buffer, not zeroed for scales 1 and 2 (index.ts)", () => {
  it("bins into a buffer of stale values as into a zeroed one, kernel and JavaScript", () => {
    for (const [width, height] of [
      [1024, 1031],
      [1964, 2048],
      [1536, 1536],
    ] as const) {
      const random = seededRandom(width);
      const data = new Uint8Array(width * height).map(() => Math.floor(random() * 256));
      const image: GrayImage = { width, height, bitDepth: 8, data };
      assert.ok(workingScale(image) <= 2);
      for (const kernels of [true, false]) {
        useFrameKernels(kernels);
        try {
          const stale = new Float32Array(workingMapSize(image)).fill(Number.NaN);
          const fresh = workingMap(image);
          sameBits(workingMapAndOverview(image, stale).work.data, fresh.data, `${width} map`);
        } finally {
          useFrameKernels(true);
        }
      }
    }
  });
});

describe("the rim fit's normal equations in the frame kernel (rim.ts fitRimShape)", () => {
  // Against the general loop: detector-rim-speed.test.ts (kernel on, as detect runs it).
  it("gives the JavaScript path's fit to the bit: gaps, outliers, a flat, order 3 and 2", () => {
    const random = seededRandom(1601);
    for (const [n, order] of [
      [7, 3],
      [64, 3],
      [1999, 3],
      [4001, 2],
    ] as const) {
      const angles = new Float64Array(n);
      const radii = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const phi = (2 * Math.PI * i) / n;
        angles[i] = phi;
        const u = random();
        radii[i] =
          u < 0.06
            ? Number.NaN
            : 900 + 3 * Math.cos(2 * phi) + (random() - 0.5) + (u > 0.97 ? 150 * random() : 0);
      }
      const rim = { angles, radii };
      const kernel = fitRimShape(rim, 890, order);
      useFrameKernels(false);
      try {
        assert.deepEqual(fitRimShape(rim, 890, order), kernel, `${n} rays, order ${order}`);
      } finally {
        useFrameKernels(true);
      }
    }
  });
});

describe("medians by the faster selection (fitDiskByLevel's centre level, fitRimShape's |residual|)", () => {
  it("equal quickselect's on block means (ties, zeros) and on |residuals| (a NaN, an infinity)", () => {
    const random = seededRandom(1602);
    for (const count of [1, 2, 7, 2047, 2048, 2049, 17_161]) {
      const means = Float32Array.from({ length: count }, () =>
        random() < 0.2 ? 0 : Math.round(random() * 1020) / 1020,
      );
      const k = Math.floor(count / 2);
      assert.ok(
        Object.is(
          quantileOfMagnitudes(means, count, 0.5),
          quantileInPlace(means.slice(), count, 0.5),
        ),
        `${count} means`,
      );
      const residuals = Float64Array.from({ length: count }, () => Math.abs(random() - 0.5));
      if (count > 5) residuals[3] = Number.NaN;
      if (count > 6) residuals[5] = Number.POSITIVE_INFINITY;
      assert.ok(
        Object.is(selectKthMagnitude(residuals, count, k), selectKth(residuals.slice(), count, k)),
        `${count} residuals`,
      );
    }
  });
});
