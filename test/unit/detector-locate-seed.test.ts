// Unit tests of locate's speed work (branch speed11): the robust circle fit's median by selection, bit for bit.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  type Circle,
  fitCircleAlgebraic,
  fitCircleRobust,
} from "../../endpoint/detector/geometry.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

/** fitCircleRobust as it was before speed11: the median deviation from a sorted copy. */
function fitCircleRobustBySort(
  xs: Float64Array,
  ys: Float64Array,
  minTolerancePx: number,
): Circle | null {
  const n = xs.length;
  const weights = new Float64Array(n).fill(1);
  let circle = fitCircleAlgebraic(xs, ys);
  if (!circle) return null;
  const deviations = new Float64Array(n);
  for (let iteration = 0; iteration < 6; iteration++) {
    for (let i = 0; i < n; i++) {
      deviations[i] = Math.abs(
        Math.hypot((xs[i] as number) - circle.cx, (ys[i] as number) - circle.cy) - circle.r,
      );
    }
    const sorted = Float64Array.from(deviations).sort();
    const mad = sorted[Math.floor(n / 2)] ?? 0;
    const tolerance = Math.max(minTolerancePx, 4 * 1.4826 * mad);
    for (let i = 0; i < n; i++) weights[i] = (deviations[i] as number) <= tolerance ? 1 : 0;
    const next = fitCircleAlgebraic(xs, ys, weights);
    if (!next) return circle;
    const moved =
      Math.abs(next.cx - circle.cx) + Math.abs(next.cy - circle.cy) + Math.abs(next.r - circle.r);
    circle = next;
    if (moved < 1e-3) break;
  }
  return circle;
}

/** A rim of n points: radius r, out of round by `ellipticity`, a notch, a chip, rim noise, every fifth point up to `inside` px in. */
function rimPoints(
  n: number,
  r: number,
  ellipticity: number,
  noise: number,
  seed: number,
  inside = 0,
) {
  const random = seededRandom(seed);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = (i / n) * 2 * Math.PI;
    let radius = r * (1 + ellipticity * Math.cos(2 * a)) + noise * standardNormal(random);
    if (i > n * 0.2 && i < n * 0.203) radius -= 0.01 * r;
    if (i > n * 0.6 && i < n * 0.62) radius -= 20;
    if (i % 5 === 1) radius -= inside * random();
    xs[i] = 1023.5 + r * 0.01 + radius * Math.cos(a);
    ys[i] = 1019.25 + radius * Math.sin(a);
  }
  return { xs, ys };
}

describe("fitCircleRobust: the median deviation by selection", () => {
  const cases = [
    { name: "3,900 points, out of round, noisy", n: 3900, r: 900, e: 0.0035, noise: 0.4 },
    {
      name: "2,049 points (just past the selection's small-sample cut)",
      n: 2049,
      r: 700,
      e: 0,
      noise: 0.3,
    },
    { name: "360 points (quickselect)", n: 360, r: 200, e: 0.002, noise: 0.2 },
    { name: "8,192 points, no noise: many tied deviations", n: 8192, r: 3000, e: 0, noise: 0 },
    { name: "5 points", n: 5, r: 100, e: 0, noise: 1 },
    // A fifth of the points spread up to ten rim sigmas inside: some lie near the tolerance
    // (4 robust sigmas), so that a median one rank off takes in or drops a point.
    { name: "2,049 points, a fifth spread inside", n: 2049, r: 700, e: 0, noise: 0.5, inside: 5 },
    {
      name: "3,900 points, a fifth spread inside",
      n: 3900,
      r: 900,
      e: 0.003,
      noise: 0.5,
      inside: 5,
    },
    { name: "301 points, a fifth spread inside", n: 301, r: 300, e: 0, noise: 0.5, inside: 5 },
  ];
  for (const c of cases) {
    it(`gives the sort's circle, bit for bit: ${c.name}`, () => {
      for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
        const { xs, ys } = rimPoints(c.n, c.r, c.e, c.noise, seed, c.inside);
        for (const tolerance of [0, 0.75, 1, 5]) {
          const expected = fitCircleRobustBySort(xs, ys, tolerance);
          const got = fitCircleRobust(xs, ys, tolerance);
          assert.ok(expected && got);
          assert.ok(
            Object.is(got.cx, expected.cx) &&
              Object.is(got.cy, expected.cy) &&
              Object.is(got.r, expected.r),
            `seed ${seed}, tolerance ${tolerance}: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`,
          );
        }
      }
    });
  }
});
