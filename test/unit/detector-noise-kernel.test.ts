// The noise samples through frame.wat (|Laplacian| and largest central difference) are noise.ts's JavaScript values, bit for bit.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import { noiseSamplesKernel, useFrameKernels } from "../../endpoint/detector/frame-passes.ts";
import { estimateNoiseSigma } from "../../endpoint/detector/noise.ts";
import { seededRandom } from "../../lib/random.ts";

/**
 * A map of float32 values: a binned-looking level with noise in quarters, raw floats of
 * every size and sign, both zeros, rare NaN and infinities, so sums round, ties abound and
 * the odd values pass through.
 */
function map(width: number, height: number, seed: number, odd: boolean): Float32Array {
  const random = seededRandom(seed);
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const u = random();
    if (odd && u < 0.002) data[i] = [Number.NaN, Number.POSITIVE_INFINITY, -0, 0][i % 4] as number;
    // Magnitudes 1e-20 to 1e29 of both signs side by side: sums of them round (and cancel).
    else if (u < 0.3) data[i] = (random() - 0.5) * 10 ** Math.floor(random() * 50 - 20);
    else data[i] = Math.round(4 * (100 + 6 * (random() - 0.5))) / 4;
  }
  return data;
}

/** noise.ts's sample loop as the JavaScript reference. */
function samplesByJavaScript(
  data: Float32Array,
  width: number,
  rows: Int32Array,
  starts: Int32Array,
  counts: Int32Array,
): { lap: Float32Array; grad: Float32Array } {
  const total = counts.reduce((a, b) => a + b, 0);
  const lap = new Float32Array(total);
  const grad = new Float32Array(total);
  let n = 0;
  rows.forEach((y, k) => {
    for (let x = starts[k] as number; x < (starts[k] as number) + (counts[k] as number); x++) {
      const i = y * width + x;
      const c = data[i] as number;
      const l = data[i - 1] as number;
      const r = data[i + 1] as number;
      const u = data[i - width] as number;
      const d = data[i + width] as number;
      lap[n] = Math.abs(c - 0.25 * (l + r + u + d));
      grad[n] = Math.max(Math.abs(r - l), Math.abs(d - u));
      n++;
    }
  });
  return { lap, grad };
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++)
    assert.ok(Object.is(a[i], b[i]), `${what}: sample ${i} ${a[i]} against ${b[i]}`);
}

afterEach(() => useFrameKernels(true));

describe("noiseSamplesKernel (frame.wat noiseSamples)", () => {
  it("gives the JavaScript's float32 values on rows of every length, bands and strides", () => {
    const random = seededRandom(61);
    for (const [width, height, stride] of [
      [7, 9, 1],
      [33, 40, 1],
      [130, 97, 3],
      [301, 260, 1],
      [257, 400, 5],
    ] as const) {
      for (const odd of [false, true]) {
        const data = map(width, height, width * height + (odd ? 1 : 0), odd);
        const rowList: number[] = [];
        for (let y = 1; y <= height - 2; y += stride) rowList.push(y);
        const rows = Int32Array.from(rowList);
        // Chords of every length 0 .. width - 2, odd and even, starting anywhere from column 1.
        const starts = new Int32Array(rows.length);
        const counts = new Int32Array(rows.length);
        rows.forEach((_, k) => {
          const start = 1 + Math.floor(random() * (width - 2));
          starts[k] = start;
          counts[k] = k % 7 === 3 ? 0 : Math.floor(random() * (width - 1 - start));
        });
        const expected = samplesByJavaScript(data, width, rows, starts, counts);
        const lap = new Float32Array(expected.lap.length + 5).fill(-7);
        const grad = new Float32Array(expected.grad.length + 5).fill(-7);
        assert.ok(noiseSamplesKernel(data, width, rows, starts, counts, lap, grad));
        const what = `${width}x${height} step ${stride}${odd ? " odd values" : ""}`;
        sameBits(lap.subarray(0, expected.lap.length), expected.lap, `${what} lap`);
        sameBits(grad.subarray(0, expected.grad.length), expected.grad, `${what} grad`);
        // Nothing is written past the samples.
        assert.ok(
          lap.subarray(expected.lap.length).every((v) => v === -7),
          `${what} past the end`,
        );
      }
    }
  });

  it("estimateNoiseSigma gives the same sigma with and without the kernel", () => {
    for (const [size, seed] of [
      [64, 1],
      [200, 2],
      [515, 3],
      [900, 4],
    ] as const) {
      const data = map(size, size, seed, seed === 3);
      const region = { cx: size / 2 + 0.3, cy: size / 2 - 0.7, r: size * 0.45 };
      for (const maxSamples of [200_000, 5_000]) {
        useFrameKernels(false);
        const javascript = estimateNoiseSigma(data, size, size, region, maxSamples);
        useFrameKernels(true);
        assert.ok(
          Object.is(estimateNoiseSigma(data, size, size, region, maxSamples), javascript),
          `${size} px, ${maxSamples} samples`,
        );
      }
    }
  });
});
