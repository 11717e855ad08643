// The die-to-die noise estimate (noise.ts) gives, bit for bit, what its previous version gave (kept here as the reference).
import assert from "node:assert/strict";
import { afterAll, describe, it } from "vitest";
import { comparisonBuffer } from "../../endpoint/detector/die-to-die-frame.ts";
import { kernelLayout, useKernels } from "../../endpoint/detector/kernel.ts";
import {
  type DiskRegion,
  estimateDieDifferenceNoise,
  MAD_TO_SIGMA,
  PAIR_DIFFERENCE_GAIN,
} from "../../endpoint/detector/noise.ts";
import { quantileOfMagnitudes } from "../../endpoint/detector/select.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { seededRandom } from "../../lib/random.ts";

/**
 * A patterned raster: a die pattern repeating along a and b (bars with sharp edges, so the gate
 * has edges to drop), a level per die, Gaussian-like noise and a few bright defects, which is
 * what the estimate meets on real wafers.
 */
function patternedRaster(
  width: number,
  height: number,
  a: { x: number; y: number },
  seed: number,
): Float32Array {
  const random = seededRandom(seed);
  const data = new Float32Array(width * height);
  const pitch = Math.hypot(a.x, a.y);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = (x * a.x + y * a.y) / pitch;
      const v = (-x * a.y + y * a.x) / pitch;
      const phaseU = ((u % pitch) + pitch) % pitch;
      const phaseV = ((v % pitch) + pitch) % pitch;
      const pattern = (phaseU < pitch * 0.3 ? 40 : 0) + (phaseV > pitch * 0.6 ? 25 : 0);
      const dieLevel = ((Math.floor(u / pitch) * 7 + Math.floor(v / pitch) * 3) % 5) * 0.4;
      const noise = (random() + random() + random() + random() - 2) * 3;
      data[y * width + x] = 100 + pattern + dieLevel + noise;
    }
  }
  for (let k = 0; k < 30; k++) {
    const at = Math.floor(random() * width * height);
    data[at] = (data[at] as number) + 60;
  }
  return data;
}

describe("estimateDieDifferenceNoise", () => {
  const width = 300;
  const height = 280;
  const a = { x: 41.37, y: 0.83 };
  const b = { x: -0.91, y: 38.62 };
  const data = patternedRaster(width, height, a, 8123);
  const cases: { name: string; region: DiskRegion; maxSamples?: number }[] = [
    { name: "centred disk, every pixel", region: { cx: 150.3, cy: 140.7, r: 135.2 } },
    {
      name: "centred disk, sampled every few pixels",
      region: { cx: 149.5, cy: 139.5, r: 134 },
      maxSamples: 5000,
    },
    { name: "disk past the left and top edges", region: { cx: 60.2, cy: 50.9, r: 130.4 } },
    {
      name: "disk past the right and bottom edges",
      region: { cx: 250.7, cy: 240.1, r: 120.6 },
      maxSamples: 9000,
    },
    { name: "small disk, few samples", region: { cx: 150, cy: 140, r: 92.5 } },
    { name: "disk too small to sample", region: { cx: 150, cy: 140, r: 88 } },
  ];
  for (const { name, region, maxSamples } of cases) {
    it(`matches the reference bit for bit: ${name}`, () => {
      const expected = referenceDieDifferenceNoise(data, width, height, region, a, b, maxSamples);
      const actual = estimateDieDifferenceNoise(data, width, height, region, a, b, maxSamples);
      assert.ok(Object.is(actual, expected), `${actual} vs reference ${expected}`);
    });
  }

  it("matches the reference on zeros of both signs and on rasters holding NaN or infinities", () => {
    // Mostly zeros of both signs, one pixel in five a small level: a noise sigma above zero, and
    // many 3x3 ranges that are a zero of either sign or have a zero max or min.
    const random = seededRandom(77);
    const zeros = data.map((_, i) =>
      random() < 0.2 ? Math.round(random() * 6) - 3 : i % 3 === 0 ? -0 : 0,
    );
    const withNaN = data.slice();
    for (let i = 5_000; i < withNaN.length; i += 9_973) withNaN[i] = Number.NaN;
    const withInfinities = data.slice();
    withInfinities[140 * width + 150] = Number.POSITIVE_INFINITY;
    withInfinities[180 * width + 150] = Number.NEGATIVE_INFINITY;
    for (const raster of [zeros, withNaN, withInfinities]) {
      for (const { region, maxSamples } of cases) {
        const expected = referenceDieDifferenceNoise(
          raster,
          width,
          height,
          region,
          a,
          b,
          maxSamples,
        );
        const actual = estimateDieDifferenceNoise(raster, width, height, region, a, b, maxSamples);
        assert.ok(Object.is(actual, expected), `${actual} vs reference ${expected}`);
      }
    }
    const sigmaOnZeros = estimateDieDifferenceNoise(
      zeros,
      width,
      height,
      cases[0]?.region as DiskRegion,
      a,
      b,
    );
    assert.ok(sigmaOnZeros > 0, `sigma ${sigmaOnZeros} on the zeros raster`);
  });

  it("gives the reference's sigma bit for bit in the WebAssembly kernels (map in their memory)", () => {
    // The die-to-die stage hands the estimate its smoothed map inside the kernels' memory
    // (comparisonBuffer); the kernels then run both passes. Zeros of both signs, NaN and
    // infinities included (a NaN difference sends the call back to the JavaScript path).
    const random = seededRandom(91);
    const zeros = data.map((_, i) =>
      random() < 0.2 ? Math.round(random() * 6) - 3 : i % 3 === 0 ? -0 : 0,
    );
    const withNaN = data.slice();
    for (let i = 5_000; i < withNaN.length; i += 9_973) withNaN[i] = Number.NaN;
    const withInfinities = data.slice();
    withInfinities[140 * width + 150] = Number.POSITIVE_INFINITY;
    // Whole quarters: many ties in the ranges and in the differences.
    const quarters = data.map((v) => Math.round(v * 4) / 4);
    let kernelRuns = 0;
    for (const raster of [data, zeros, quarters, withNaN, withInfinities]) {
      for (const { region, maxSamples } of cases) {
        const expected = referenceDieDifferenceNoise(
          raster,
          width,
          height,
          region,
          a,
          b,
          maxSamples,
        );
        const { sigma, ran } = inKernelMemory(raster, width, height, region, a, b, maxSamples);
        if (ran) kernelRuns++;
        assert.ok(Object.is(sigma, expected), `${sigma} vs reference ${expected}`);
      }
    }
    // At least the three disks inside the map on the four rasters without NaN.
    assert.ok(kernelRuns >= 12, `the kernel path ran ${kernelRuns} times`);
  });

  it("gives the reference's sigma in the kernels across lattices and map sizes", () => {
    const lattices = [
      { a: { x: 23.5, y: 0 }, b: { x: 0, y: 21.25 } },
      { a: { x: 17.02, y: -1.4 }, b: { x: 1.6, y: 19.9 } },
      { a: { x: 31, y: 2 }, b: { x: -2, y: 29 } },
    ];
    let kernelRuns = 0;
    for (const [k, lattice] of lattices.entries()) {
      for (const [w, h] of [
        [181, 163],
        [256, 256],
        [97, 211],
      ] as const) {
        const raster = patternedRaster(w, h, lattice.a, 400 + k);
        const region = { cx: w / 2 + 0.3, cy: h / 2 - 0.2, r: Math.min(w, h) / 2 - 1.5 };
        for (const maxSamples of [1_000, 100_000]) {
          const expected = referenceDieDifferenceNoise(
            raster,
            w,
            h,
            region,
            lattice.a,
            lattice.b,
            maxSamples,
          );
          const { sigma, ran } = inKernelMemory(
            raster,
            w,
            h,
            region,
            lattice.a,
            lattice.b,
            maxSamples,
          );
          if (ran) kernelRuns++;
          assert.ok(Object.is(sigma, expected), `${w}x${h}: ${sigma} vs ${expected}`);
        }
      }
    }
    assert.ok(kernelRuns >= 8, `the kernel path ran ${kernelRuns} times`);
  });

  it("takes the JavaScript path with the kernels off, with the same sigma", () => {
    const inKernel = comparisonBuffer(width, height);
    inKernel.set(data);
    const region = cases[0]?.region as DiskRegion;
    const withKernel = estimateDieDifferenceNoise(inKernel, width, height, region, a, b);
    useKernels(false);
    const without = estimateDieDifferenceNoise(inKernel, width, height, region, a, b);
    useKernels(true);
    assert.ok(Object.is(withKernel, without), `${withKernel} vs ${without}`);
  });
  afterAll(() => useKernels(true));

  it("measures a non-zero sigma on the patterned raster (the comparison is not vacuous)", () => {
    const sigma = estimateDieDifferenceNoise(
      data,
      width,
      height,
      cases[0]?.region as DiskRegion,
      a,
      b,
    );
    assert.ok(sigma > 1 && sigma < 10, `sigma ${sigma}`);
  });
});

/**
 * estimateDieDifferenceNoise on a copy of `raster` placed where the die-to-die stage leaves its
 * smoothed map (the kernels' memory), and whether the kernel path ran: it writes its first row
 * record where a mark was left (the residual's ring region).
 */
function inKernelMemory(
  raster: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  a: { x: number; y: number },
  b: { x: number; y: number },
  maxSamples?: number,
): { sigma: number; ran: boolean } {
  const inKernel = comparisonBuffer(width, height);
  inKernel.set(raster);
  const layout = kernelLayout(width, height);
  assert.ok(layout, "WebAssembly SIMD is available in the test runtime");
  const firstRecord = new Int32Array(layout.buffer, layout.ringOffset, 1);
  firstRecord[0] = -7;
  const sigma = estimateDieDifferenceNoise(inKernel, width, height, region, a, b, maxSamples);
  return { sigma, ran: firstRecord[0] !== -7 };
}

// The previous version of estimateDieDifferenceNoise, unchanged but for its name.
function referenceDieDifferenceNoise(
  data: Float32Array,
  width: number,
  height: number,
  region: DiskRegion,
  a: { x: number; y: number },
  b: { x: number; y: number },
  maxSamples = 100_000,
): number {
  const lag = DETECTION.dieDifferenceLagPx;
  const step = Math.max(1, Math.round(Math.sqrt((Math.PI * region.r * region.r) / maxSamples)));
  const reach = Math.hypot(a.x, a.y) + Math.hypot(b.x, b.y) + 2 + lag;
  const inner = region.r - reach;
  if (inner <= 4) return 0;
  const { cx, cy } = region;
  // The grid's sampled columns and rows, each with the nearest pixels of its references
  // (nearest-pixel samples: a bilinear one averages noise away and would understate sigma).
  // Tabled once per column and per row, so the loop over the grid only adds and reads; q's
  // references are p's moved by the lag (an integer), so the same tables serve both.
  const columns = sampleTaps(
    Math.ceil(cx - inner),
    cx + inner,
    step,
    2,
    width - 2 - lag,
    a.x,
    b.x,
    1,
  );
  const rows = sampleTaps(Math.ceil(cy - inner), cy + inner, step, 2, height - 2, a.y, b.y, width);
  const capacity = columns.count * rows.count;
  if (capacity < 64) return 0;
  // |D(p) - D(q)| of each sample, in grid order.
  const absDiffs = new Float64Array(capacity);
  const innerSquared = inner * inner;
  let n = 0;
  for (let r = 0; r < rows.count; r++) {
    const y = rows.at[r] as number;
    const dy = (y - cy) ** 2;
    const rowBase = y * width;
    const rowPlusA = rows.plusA[r] as number;
    const rowMinusA = rows.minusA[r] as number;
    for (let c = 0; c < columns.count; c++) {
      const x = columns.at[c] as number;
      if ((x - cx) ** 2 + dy > innerSquared) continue;
      const plus = rowPlusA + (columns.plusA[c] as number);
      const minus = rowMinusA + (columns.minusA[c] as number);
      const atP =
        (data[rowBase + x] as number) - 0.5 * ((data[plus] as number) + (data[minus] as number));
      const atQ =
        (data[rowBase + x + lag] as number) -
        0.5 * ((data[plus + lag] as number) + (data[minus + lag] as number));
      absDiffs[n++] = Math.abs(atP - atQ);
    }
  }
  if (n < 64) return 0;
  const gain = PAIR_DIFFERENCE_GAIN * Math.SQRT2;
  const first = (MAD_TO_SIGMA * quantileOfMagnitudes(absDiffs, n, 0.5)) / gain;
  // A 3x3 range of pure noise stays under about 5 sigma (the largest minus the smallest of 9).
  // A sample passes when, at p and at q, the smaller of the two ranges (dies at +b and -b) is
  // within the gate: the one at +b first, the one at -b only when that fails (the same samples
  // pass). Passing samples move to the front in place (m <= i: nothing is overwritten unread).
  const gate = 5 * first;
  let m = 0;
  let i = 0;
  for (let r = 0; r < rows.count; r++) {
    const y = rows.at[r] as number;
    const dy = (y - cy) ** 2;
    const rb = 3 * r;
    for (let c = 0; c < columns.count; c++) {
      const x = columns.at[c] as number;
      if ((x - cx) ** 2 + dy > innerSquared) continue;
      const cb = 3 * c;
      if (
        (range3x3(data, rows.plusB, rb, columns.plusB, cb, 0) <= gate ||
          range3x3(data, rows.minusB, rb, columns.minusB, cb, 0) <= gate) &&
        (range3x3(data, rows.plusB, rb, columns.plusB, cb, lag) <= gate ||
          range3x3(data, rows.minusB, rb, columns.minusB, cb, lag) <= gate)
      ) {
        absDiffs[m++] = absDiffs[i] as number;
      }
      i++;
    }
  }
  if (m < 0.2 * n) return first;
  return (MAD_TO_SIGMA * quantileOfMagnitudes(absDiffs, m, 0.5)) / gain;
}

/**
 * Along one axis of the sampling grid (coordinates from, from + step, ... up to `to`, those in
 * [lowest, below) kept): each coordinate and the nearest-pixel index terms of its references,
 * times `unit` (1 for columns, the row width for rows). `plusA`/`minusA` are round(p +- da);
 * `plusB`/`minusB` hold, three per coordinate, round((p +- db) + k) for k = -1, 0, 1, the 3x3
 * neighbourhood of the gate's range, rounded exactly as a per-pixel lookup of p +- db would.
 */
function sampleTaps(
  from: number,
  to: number,
  step: number,
  lowest: number,
  below: number,
  da: number,
  db: number,
  unit: number,
): {
  count: number;
  at: Int32Array;
  plusA: Int32Array;
  minusA: Int32Array;
  plusB: Int32Array;
  minusB: Int32Array;
} {
  let count = 0;
  for (let p = from; p <= to; p += step) if (p >= lowest && p < below) count++;
  const at = new Int32Array(count);
  const plusA = new Int32Array(count);
  const minusA = new Int32Array(count);
  const plusB = new Int32Array(3 * count);
  const minusB = new Int32Array(3 * count);
  let i = 0;
  for (let p = from; p <= to; p += step) {
    if (p < lowest || p >= below) continue;
    at[i] = p;
    plusA[i] = Math.round(p + da) * unit;
    minusA[i] = Math.round(p - da) * unit;
    const centrePlus = p + db;
    const centreMinus = p - db;
    for (let k = -1; k <= 1; k++) {
      plusB[3 * i + k + 1] = Math.round(centrePlus + k) * unit;
      minusB[3 * i + k + 1] = Math.round(centreMinus + k) * unit;
    }
    i++;
  }
  return { count, at, plusA, minusA, plusB, minusB };
}

/**
 * max - min of the 9 pixels at rowTerms[rb..rb+2] x (columnTerms[cb..cb+2] + shift) (index terms).
 * Math.max / Math.min, not ifs: on noisy data the branches of a running max mispredict often
 * and cost most of the sampling. Same max and min as comparing one by one (pixels are finite).
 */
function range3x3(
  data: Float32Array,
  rowTerms: Int32Array,
  rb: number,
  columnTerms: Int32Array,
  cb: number,
  shift: number,
): number {
  const c0 = (columnTerms[cb] as number) + shift;
  const c1 = (columnTerms[cb + 1] as number) + shift;
  const c2 = (columnTerms[cb + 2] as number) + shift;
  const r0 = rowTerms[rb] as number;
  const r1 = rowTerms[rb + 1] as number;
  const r2 = rowTerms[rb + 2] as number;
  const a0 = data[r0 + c0] as number;
  const a1 = data[r0 + c1] as number;
  const a2 = data[r0 + c2] as number;
  const b0 = data[r1 + c0] as number;
  const b1 = data[r1 + c1] as number;
  const b2 = data[r1 + c2] as number;
  const d0 = data[r2 + c0] as number;
  const d1 = data[r2 + c1] as number;
  const d2 = data[r2 + c2] as number;
  const hi = Math.max(Math.max(a0, a1, a2), Math.max(b0, b1, b2), Math.max(d0, d1, d2));
  const lo = Math.min(Math.min(a0, a1, a2), Math.min(b0, b1, b2), Math.min(d0, d1, d2));
  return hi - lo;
}
