// The illumination fit's normal equations through frame.wat (normalSums) give the JavaScript's coefficients, bit for bit.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import { fitSmoothBackground } from "../../endpoint/detector/background.ts";
import { normalEquationsKernel, useFrameKernels } from "../../endpoint/detector/frame-passes.ts";
import { seededRandom } from "../../lib/random.ts";

afterEach(() => useFrameKernels(true));

/** The sums as the JavaScript takes them: blocks of weight 0 skipped, one chain per entry in block order. */
function sumsByJavaScript(
  basis: Float64Array,
  weights: Float64Array,
  blocks: number,
  terms: number,
): Float64Array {
  const columns = terms + 1;
  const out = new Float64Array(terms * columns);
  for (let r = 0; r < terms; r++) {
    for (let c = r; c < columns; c++) {
      let sum = 0;
      for (let j = 0; j < blocks; j++) {
        const w = weights[j] as number;
        if (w === 0) continue;
        sum += (basis[j * columns + r] as number) * w * (basis[j * columns + c] as number);
      }
      out[r * columns + c] = sum;
    }
  }
  return out;
}

describe("normalEquationsKernel (frame.wat normalSums)", () => {
  it("gives each upper-triangle sum and right-hand side of the JavaScript to the last bit", () => {
    const random = seededRandom(71);
    for (const [blocks, terms] of [
      [0, 6],
      [1, 1],
      [5, 3],
      [97, 6],
      [1800, 15],
      [333, 10],
      [64, 21],
    ] as const) {
      const kernel = normalEquationsKernel(blocks, terms);
      assert.ok(kernel, "kernel available");
      const columns = terms + 1;
      const basis = new Float64Array(blocks * columns);
      // Values from 1e-12 to 1e12 of both signs (sums that round and cancel), some -0.
      for (let i = 0; i < basis.length; i++)
        basis[i] = i % 37 === 5 ? -0 : (random() - 0.5) * 10 ** Math.floor(random() * 24 - 12);
      const weights = new Float64Array(blocks);
      for (let j = 0; j < blocks; j++) {
        const u = random();
        weights[j] = u < 0.1 ? 0 : u < 0.15 ? -0 : u < 0.2 ? 1 : random();
      }
      // A block of weight 0 is left out, not added as 0: its infinite value must not show.
      if (blocks > 3) {
        weights[3] = 0;
        basis[3 * columns + terms] = Number.POSITIVE_INFINITY;
      }
      kernel.basis.set(basis);
      kernel.weights.set(weights);
      const got = kernel.sums();
      const want = sumsByJavaScript(basis, weights, blocks, terms);
      for (let r = 0; r < terms; r++)
        for (let c = r; c < columns; c++)
          assert.ok(
            Object.is(got[r * columns + c], want[r * columns + c]),
            `${blocks} blocks, ${terms} terms: entry ${r}, ${c}: ${got[r * columns + c]} vs ${want[r * columns + c]}`,
          );
    }
  });

  it("fitSmoothBackground gives the same coefficients with and without the kernel", () => {
    const random = seededRandom(72);
    for (const [size, disk, degree] of [
      [300, { cx: 150.5, cy: 149.2, r: 140.3 }, 4],
      [257, { cx: 120.1, cy: 140.7, r: 150.2 }, 4],
      [120, { cx: 60.4, cy: 55.9, r: 41.1 }, 2],
      [600, { cx: 300.2, cy: 310.8, r: 280.6 }, 6],
    ] as const) {
      const data = new Float32Array(size * size);
      for (let i = 0; i < data.length; i++) {
        const x = (i % size) - disk.cx;
        const y = Math.floor(i / size) - disk.cy;
        const stain = (x - 0.3 * disk.r) ** 2 + y ** 2 < (0.2 * disk.r) ** 2 ? 40 : 0;
        data[i] = 200 + 0.05 * x - 0.0004 * y * y + stain + 6 * (random() - 0.5);
      }
      const map = { width: size, height: size, scale: 1, data };
      for (const sigma of [0, 3, 50]) {
        useFrameKernels(false);
        const javascript = fitSmoothBackground(map, disk, sigma, degree).coefficients;
        useFrameKernels(true);
        const kernel = fitSmoothBackground(map, disk, sigma, degree).coefficients;
        assert.equal(kernel.length, javascript.length);
        for (let t = 0; t < kernel.length; t++)
          assert.ok(Object.is(kernel[t], javascript[t]), `${size} px, sigma ${sigma}, term ${t}`);
      }
    }
  });
});
