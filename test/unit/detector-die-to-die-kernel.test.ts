// The die-to-die WebAssembly kernel: its binary is the assembled WAT source, and it gives the JavaScript path's residual bit for bit.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { afterEach, describe, it } from "vitest";
import { dieToDieResidual, useResidualKernel } from "../../endpoint/detector/die-to-die.ts";
import { comparisonBuffer } from "../../endpoint/detector/die-to-die-frame.ts";
import { KERNEL_BASE64 } from "../../endpoint/detector/die-to-die-kernel.ts";
import { binomialBlur3 } from "../../endpoint/detector/raster.ts";
import type { PatternAwareSigma } from "../../endpoint/detector/threshold.ts";
import { activityMap, patternActivity } from "../../endpoint/detector/threshold-activity.ts";
import { seededRandom } from "../../lib/random.ts";
import { assemble, KERNELS, kernelModule } from "../../scripts/build-wasm.ts";

interface Vec {
  x: number;
  y: number;
}

const sameBits = (x: ArrayBufferView, y: ArrayBufferView): boolean =>
  Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
    Buffer.from(y.buffer, y.byteOffset, y.byteLength),
  );

/** The residual, edge mask and edge gain with the kernel on or off. */
function residual(
  data: Float32Array,
  width: number,
  height: number,
  a: Vec,
  b: Vec,
  region: { cx: number; cy: number; r: number },
  waferRadius: number,
  sigma: number,
  kernel: boolean,
) {
  useResidualKernel(kernel);
  const out = new Float32Array(width * height).fill(5);
  const edgeMask = new Uint8Array(width * height);
  const edgeGain = new Uint8Array(width * height);
  const map = { width, height, scale: 1, data };
  dieToDieResidual(map, a, b, region, waferRadius, sigma, out, edgeMask, edgeGain);
  return { out, edgeMask, edgeGain };
}

describe("die-to-die WebAssembly kernel", () => {
  afterEach(() => useResidualKernel(true));

  it("ships the binary its WAT source assembles to", async () => {
    for (const kernel of KERNELS) {
      const binary = await assemble(kernel.source);
      const committed = await readFile(kernel.module, "utf8");
      assert.equal(committed, kernelModule(committed.match(/of (\S+),/)?.[1] ?? "", binary));
    }
    assert.ok(Buffer.from(KERNEL_BASE64, "base64").length > 1000);
  });

  // Random values with long runs of +0 and -0 (the residual's allowance zeros), negative values,
  // widths giving runs of odd and even length, lattices with fractions of every kind.
  const cases: Array<{
    width: number;
    height: number;
    a: Vec;
    b: Vec;
    sigma: number;
    whole?: boolean;
    /** Only +0, -0, 1 and -1: zeros of both signs meet in every min and max. */
    zeros?: boolean;
  }> = [
    { width: 211, height: 197, a: { x: 23.5, y: 0.5 }, b: { x: -0.5, y: 19.5 }, sigma: 3 },
    { width: 160, height: 171, a: { x: 17, y: 0 }, b: { x: 0, y: 17 }, sigma: 0 },
    { width: 233, height: 240, a: { x: -31.25, y: 9.7 }, b: { x: 8.3, y: 29.41 }, sigma: 12 },
    // Whole numbers on a whole-pixel lattice: many exact ties between comparisons.
    { width: 190, height: 185, a: { x: 19, y: 0 }, b: { x: 0, y: 19 }, sigma: 1, whole: true },
    { width: 150, height: 149, a: { x: 16, y: 0 }, b: { x: 0, y: 16 }, sigma: 0, zeros: true },
    {
      width: 151,
      height: 150,
      a: { x: 15.5, y: 0.25 },
      b: { x: -0.25, y: 16.5 },
      sigma: 0,
      zeros: true,
    },
  ];
  for (const [k, c] of cases.entries()) {
    it(`equals the JavaScript path bit for bit on random rasters (case ${k})`, () => {
      const random = seededRandom(9100 + k);
      const data = Float32Array.from({ length: c.width * c.height }, () => {
        const u = random();
        if (c.zeros) return [0, -0, 1, -1][Math.floor(4 * u)] as number;
        if (u < 0.01) return 0;
        if (u < 0.02) return -0;
        if (u < 0.025) return 1e6 * random() - 5e5;
        return c.whole ? Math.round(100 + 8 * random()) : 100 + 20 * random();
      });
      const region = { cx: c.width / 2 + 0.3, cy: c.height / 2 - 0.2, r: c.width / 2 - 6 };
      const js = residual(data, c.width, c.height, c.a, c.b, region, region.r + 2, c.sigma, false);
      const simd = residual(data, c.width, c.height, c.a, c.b, region, region.r + 2, c.sigma, true);
      let nonzero = 0;
      for (const v of js.out) if (v !== 0) nonzero++;
      let interior = 0;
      for (let i = 0; i < js.edgeMask.length; i++) {
        const dx = (i % c.width) - region.cx;
        const dy = Math.floor(i / c.width) - region.cy;
        if (js.edgeMask[i] === 0 && dx * dx + dy * dy < region.r * region.r) interior++;
      }
      // On the zeros-only rasters most comparisons are forgiven: what counts there is the ties.
      const nonzeroShare = c.zeros ? 0.01 : 0.1;
      assert.ok(nonzero > nonzeroShare * c.width * c.height, `${nonzero} nonzero residuals`);
      assert.ok(
        interior > 0.25 * c.width * c.height,
        `${interior} pixels in the kernel's interior`,
      );
      assert.ok(sameBits(simd.out, js.out), "residual differs");
      assert.ok(sameBits(simd.edgeMask, js.edgeMask), "edge mask differs");
      assert.ok(sameBits(simd.edgeGain, js.edgeGain), "edge gain differs");
    });
  }

  it("gives the JavaScript path's results on a map holding NaN and infinities", () => {
    const random = seededRandom(9200);
    const width = 170;
    const height = 160;
    const data = Float32Array.from({ length: width * height }, () => {
      const u = random();
      if (u < 0.002) return Number.NaN;
      if (u < 0.003) return Number.POSITIVE_INFINITY;
      if (u < 0.004) return Number.NEGATIVE_INFINITY;
      return 100 + 20 * random();
    });
    const region = { cx: 85.4, cy: 79.7, r: 74 };
    const a = { x: 17.3, y: 0.6 };
    const b = { x: -0.6, y: 18.2 };
    const js = residual(data, width, height, a, b, region, 76, 2, false);
    const simd = residual(data, width, height, a, b, region, 76, 2, true);
    assert.ok(js.out.some(Number.isNaN), "NaN residuals");
    assert.ok(sameBits(simd.out, js.out), "residual differs");
    assert.ok(sameBits(simd.edgeMask, js.edgeMask), "edge mask differs");
    assert.ok(sameBits(simd.edgeGain, js.edgeGain), "edge gain differs");
  });

  it("reads a map smoothed into its own memory in place, across map sizes", () => {
    const a = { x: 21.5, y: 0.25 };
    const b = { x: -0.25, y: 21.5 };
    for (const [width, height] of [
      [150, 140],
      [260, 250],
      [150, 140],
    ] as const) {
      const random = seededRandom(width);
      const plain = Float32Array.from({ length: width * height }, () => 100 * random());
      const region = { cx: width / 2, cy: height / 2, r: height / 2 - 5 };
      const js = residual(plain, width, height, a, b, region, region.r + 2, 2, false);
      useResidualKernel(true);
      const inPlace = comparisonBuffer(width, height);
      inPlace.set(plain);
      const out = new Float32Array(width * height);
      dieToDieResidual(
        { width, height, scale: 1, data: inPlace },
        a,
        b,
        region,
        region.r + 2,
        2,
        out,
      );
      assert.ok(sameBits(out, js.out), `residual differs at ${width} x ${height}`);
    }
  });

  for (const [width, height] of [
    [2, 2],
    [3, 7],
    [64, 1],
    [101, 77],
  ] as const) {
    it(`smooths like the JavaScript path, bit for bit, on ${width} x ${height}`, () => {
      const random = seededRandom(width * 1000 + height);
      // A disk of values in a frame of +0 (the residual's shape), with -0s and large values.
      const src = Float32Array.from({ length: width * height }, (_, i) => {
        const dx = (i % width) - width / 2;
        const dy = Math.floor(i / width) - height / 2;
        if (dx * dx + dy * dy > (width * width) / 5) return 0;
        const u = random();
        return u < 0.05 ? -0 : u < 0.07 ? 3e37 * (random() - 0.5) : 200 * random() - 100;
      });
      useResidualKernel(false);
      const js = new Float32Array(width * height);
      binomialBlur3(src, width, height, js);
      useResidualKernel(true);
      const simd = new Float32Array(width * height).fill(9);
      binomialBlur3(src, width, height, simd);
      assert.ok(sameBits(simd, js), "smoothing differs");
      // Written straight into the kernel's memory, as the die-to-die stage does.
      const inPlace = comparisonBuffer(width, height);
      binomialBlur3(src, width, height, inPlace);
      assert.ok(sameBits(inPlace, js), "smoothing into the kernel's memory differs");
    });
  }

  for (const [width, height, offset] of [
    [3, 3, 1],
    [37, 29, 40],
    [130, 97, 25 * 130 + 24],
  ] as const) {
    it(`gives the pattern activity of two 3x3 ranges bit for bit (${width} x ${height})`, () => {
      const random = seededRandom(width * 7 + height);
      // Binned levels (quarters of whole numbers, as a 2x2-binned image gives), signed zeros.
      const choices = [0, -0, 5, -5, 0.25];
      const data = Float32Array.from({ length: width * height }, () =>
        random() < 0.4
          ? (choices[Math.floor(random() * choices.length)] as number)
          : Math.round(1600 * random() - 800) / 4,
      );
      // A patch of signed zeros only, and one of ties.
      for (let i = 0; i < Math.min(data.length, 3 * width); i++) {
        if (i % width < width / 2) data[i] = random() < 0.5 ? 0 : -0;
        else data[i] = 5;
      }
      const map = { width, height, scale: 1, data };
      const model: PatternAwareSigma = {
        bounds: Float64Array.of(Number.POSITIVE_INFINITY),
        sigmas: Float64Array.of(1),
        neighbourOffset: offset,
        map,
      };
      const maps = activityMap(map);
      assert.ok(maps, "the kernel runs and every range is a float32");
      const withMaps = { ...model, activity: maps };
      let finite = 0;
      for (let i = 0; i < data.length; i++) {
        const expected = patternActivity(model, i);
        const got = patternActivity(withMaps, i);
        if (expected > 0) finite++;
        assert.ok(Object.is(got, expected), `activity at ${i}: ${got} vs ${expected}`);
      }
      assert.ok(finite > 0, "some pixels have activity");
    });
  }

  it("is not taken where a row it reads holds a NaN, wherever the NaN lies", () => {
    // pmax / pmin keep their first operand against a NaN: a NaN in any column or row of a 3x3
    // block must still refuse the map (range3x3 skips a NaN neighbour but not a NaN centre).
    const width = 23;
    const height = 9;
    const base = Float32Array.from({ length: width * height }, (_, i) => (i * 37) % 11);
    assert.ok(activityMap({ width, height, scale: 1, data: base }), "a finite map is kept");
    for (let at = 0; at < base.length; at++) {
      const data = base.slice();
      data[at] = Number.NaN;
      assert.equal(activityMap({ width, height, scale: 1, data }), null, `NaN at ${at}`);
    }
    // Rows 3 .. 5 read rows 2 .. 6 (and a pixel either side): a NaN further off is not read.
    const data = base.slice();
    data[0] = Number.NaN;
    data[8 * width + 5] = Number.NaN;
    const kept = activityMap({ width, height, scale: 1, data }, { first: 3, end: 6 });
    assert.ok(kept, "a NaN outside the rows read leaves the map");
    const model: PatternAwareSigma = {
      bounds: Float64Array.of(Number.POSITIVE_INFINITY),
      sigmas: Float64Array.of(1),
      neighbourOffset: 1,
      map: { width, height, scale: 1, data },
    };
    for (let i = 3 * width + 1; i < 6 * width - 1; i++)
      assert.ok(
        Object.is(patternActivity({ ...model, activity: kept }, i), patternActivity(model, i)),
      );
  });

  it("is not taken where a float32 cannot hold some 3x3 range exactly", () => {
    const width = 20;
    const height = 10;
    // 1 + 2^-23 less 3 * 2^-30 needs 31 significant bits: a double holds it, a float32 not.
    const data = new Float32Array(width * height).fill(1 + 2 ** -23);
    data[5 * width + 7] = 3 * 2 ** -30;
    assert.equal(activityMap({ width, height, scale: 1, data }), null);
    data[5 * width + 7] = 0.5;
    assert.ok(activityMap({ width, height, scale: 1, data }));
  });
});
