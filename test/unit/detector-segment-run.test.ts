// The segmenter's per-row disk runs (segment.ts insideRun) hold exactly the pixels the per-pixel disk test accepts; its seed scan (nextCandidate) stops where the test as first written does.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { insideRun, nextCandidate } from "../../endpoint/detector/segment.ts";
import { seededRandom } from "../../lib/random.ts";

describe("insideRun", () => {
  it("matches the per-pixel test on every row, for centred, off-centre and clipped disks", () => {
    const random = seededRandom(42);
    for (let trial = 0; trial < 60; trial++) {
      const width = 40 + Math.floor(random() * 200);
      const height = 40 + Math.floor(random() * 200);
      // Fractional centres and radii, some disks larger than the frame or hanging off it.
      const region = {
        cx: random() * width * 1.2 - 0.1 * width,
        cy: random() * height * 1.2 - 0.1 * height,
        r: trial === 0 ? 0.4 : 1 + random() * Math.max(width, height) * 0.7,
      };
      const r2 = region.r * region.r;
      const inside = (x: number, y: number) =>
        (x - region.cx) * (x - region.cx) + (y - region.cy) * (y - region.cy) < r2;
      const first = Math.max(1, Math.ceil(region.cx - region.r));
      const limit = Math.min(width - 1, region.cx + region.r);
      for (let y = 0; y < height; y++) {
        const expected: number[] = [];
        for (let x = first; x < limit; x++) if (inside(x, y)) expected.push(x);
        const [start, end] = insideRun(y, first, limit, region, inside);
        const got: number[] = [];
        for (let x = start; x < end; x++) got.push(x);
        assert.deepEqual(got, expected, `trial ${trial} row ${y}`);
      }
    }
  });
});

describe("nextCandidate", () => {
  it("finds the first pixel the seed test as first written passes, for special values and minima", () => {
    const specials = [0, -0, 1.5, -1.5, 3, -3, Number.NaN, Infinity, -Infinity, 1e-40, -7];
    const minima = [2, 0, -0, -1, Number.NaN, Infinity, -Infinity, 1.5, 3];
    // Every pair of special values as (score, residual) at one pixel, after a run of zeros.
    for (const minHigh of minima) {
      for (const minResidual of minima) {
        for (const sv of specials) {
          for (const rv of specials) {
            const score = new Float32Array([0.5, -0.25, sv, 9]);
            const residual = new Float32Array([0.25, 0.5, rv, 0]);
            const passes = (s: number, r: number, withResidual: boolean) =>
              s >= minHigh ||
              s <= -minHigh ||
              (withResidual && (r >= minResidual || r <= -minResidual));
            for (const withResidual of [true, false]) {
              let expected = score.length;
              for (let i = 0; i < score.length; i++) {
                if (passes(score[i] as number, residual[i] as number, withResidual)) {
                  expected = i;
                  break;
                }
              }
              const got = nextCandidate(
                score,
                withResidual ? residual : undefined,
                0,
                score.length,
                minHigh,
                minResidual,
              );
              assert.equal(got, expected, `${sv} ${rv} ${minHigh} ${minResidual} ${withResidual}`);
            }
          }
        }
      }
    }
  });
});
