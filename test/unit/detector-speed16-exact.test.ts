// speed16's faster paths (the overview's means scaled in the kernel, the working map's buffer left unzeroed, the rim fit's sums in the kernel, two medians by the one-pass selection) give the plain versions' bits.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { bin2AndBlockMeansKernel, useFrameKernels } from "../../endpoint/detector/frame-passes.ts";
import { quantileInPlace, selectKth } from "../../endpoint/detector/raster.ts";
import { fitRimShape } from "../../endpoint/detector/rim.ts";
import { quantileOfMagnitudes, selectKthMagnitude } from "../../endpoint/detector/select.ts";
import { workingMap, workingMapSize, workingScale } from "../../endpoint/detector/stages/input.ts";
import { overviewOf, workingMapAndOverview } from "../../endpoint/quality/disk.ts";
import { fullScale, type GrayImage } from "../../lib/gray-image.ts";
import { seededRandom } from "../../lib/random.ts";

function sameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    if (!Object.is(actual[i], expected[i]))
      assert.fail(`${what}: value ${i} is ${actual[i]}, expected ${expected[i]}`);
}

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
      // The gate's overview of the frame alone (blockMeansKernel), and without the kernels.
      sameBits(overviewOf(image).data, expected, "overviewOf");
      useFrameKernels(false);
      try {
        sameBits(overviewOf(image).data, expected, "overviewOf without the kernels");
      } finally {
        useFrameKernels(true);
      }
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
