// Footprint evidence (footprint-evidence.ts): what the per-pixel misregistration allowance took from a one-signed spot comes back; a clean dense pattern stays as it was.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { dieToDieResidual, pairMisregistrationShare } from "../../endpoint/detector/die-to-die.ts";
import {
  boxSums,
  restoreFootprintEvidence,
  stepBound,
} from "../../endpoint/detector/footprint-evidence.ts";
import type { Vector } from "../../endpoint/detector/lattice.ts";
import { binomialBlur3 } from "../../endpoint/detector/raster.ts";
import { seededRandom } from "../../lib/random.ts";

const SIZE = 400;
const LEVEL = 100;
const LINES = 80;
const NOISE = 0.6;
// A fractional lattice: every die is drawn at its own sub-pixel phase, as a camera sees them.
const A: Vector = { x: 24.37, y: 0.29 };
const B: Vector = { x: -0.23, y: 23.71 };
const REGION = { cx: 200, cy: 200, r: 185 };

/**
 * A patterned map as the comparison sees it: dies on the lattice, each with an array block of
 * fine bright lines (anti-aliased by 4 x 4 supersampling), sensor noise, then the stage's 3x3
 * binomial smoothing. `spot` darkens a small square (image px, before smoothing) by its contrast.
 */
function patternedMap(spot: { x: number; y: number; side: number; contrast: number } | null) {
  const det = A.x * B.y - A.y * B.x;
  const random = seededRandom(7);
  const raw = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      let covered = 0;
      for (let sy = 0; sy < 4; sy++)
        for (let sx = 0; sx < 4; sx++) {
          const px = x + (sx + 0.5) / 4 - REGION.cx;
          const py = y + (sy + 0.5) / 4 - REGION.cy;
          const u = (px * B.y - py * B.x) / det;
          const v = (A.x * py - A.y * px) / det;
          const fu = u - Math.floor(u);
          const fv = v - Math.floor(v);
          // An array block of fine lines (period 2.5 px), the densest motif detail.
          if (fu > 0.2 && fu < 0.8 && fv > 0.2 && fv < 0.8 && (fu * A.x) % 2.5 < 1.25) covered++;
        }
      const gaussian =
        Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()) * NOISE;
      raw[y * SIZE + x] = LEVEL + (LINES * covered) / 16 + gaussian;
    }
  if (spot)
    for (let y = spot.y; y < spot.y + spot.side; y++)
      for (let x = spot.x; x < spot.x + spot.side; x++)
        raw[y * SIZE + x] = (raw[y * SIZE + x] as number) - spot.contrast;
  const smooth = new Float32Array(SIZE * SIZE);
  binomialBlur3(raw, SIZE, SIZE, smooth);
  return smooth;
}

function compare(data: Float32Array) {
  const map = { width: SIZE, height: SIZE, scale: 1, data };
  const residual = new Float32Array(SIZE * SIZE);
  const edgeMask = new Uint8Array(SIZE * SIZE);
  dieToDieResidual(map, A, B, REGION, REGION.r + 4, 0.375 * NOISE, residual, edgeMask);
  const before = residual.slice();
  const dirs = [A, B, { x: A.x + B.x, y: A.y + B.y }, { x: A.x - B.x, y: A.y - B.y }];
  const evidence = restoreFootprintEvidence(
    { map, dirs, shares: dirs.map(pairMisregistrationShare), region: REGION, edgeMask },
    residual,
  );
  return { before, after: residual, evidence };
}

/** The mean |value| over a square of the map. */
function meanAbs(values: Float32Array, x0: number, y0: number, side: number): number {
  let sum = 0;
  for (let y = y0; y < y0 + side; y++)
    for (let x = x0; x < x0 + side; x++) sum += Math.abs(values[y * SIZE + x] as number);
  return sum / (side * side);
}

describe("footprint evidence", () => {
  it("box sums of a bilinear sample are the bilinear sample of the box sums", () => {
    // The statistic reads S = B(p) - (B~(p + d) + B~(p - d)) / 2 from one map of box sums; that
    // is the box sum of the per-pixel differences only because both operations are linear.
    const width = 40;
    const height = 36;
    const random = seededRandom(3);
    const data = Float32Array.from({ length: width * height }, () => 1000 * random());
    const side = 8;
    const sums = new Float32Array(width * height);
    boxSums(data, width, side, { y0: 6, y1: 28, x0: 6, x1: 30 }, sums, new Float64Array(width));
    const at = (x: number, y: number) => data[y * width + x] as number;
    const bilinear = (x: number, y: number, values: (x: number, y: number) => number) => {
      const ix = Math.floor(x);
      const iy = Math.floor(y);
      const fx = x - ix;
      const fy = y - iy;
      const top = values(ix, iy) + (values(ix + 1, iy) - values(ix, iy)) * fx;
      const bottom = values(ix, iy + 1) + (values(ix + 1, iy + 1) - values(ix, iy + 1)) * fx;
      return top + (bottom - top) * fy;
    };
    for (const [px, py, dx, dy] of [
      [18, 17, 5.37, -3.81],
      [16, 16, -2.25, 6.6],
    ] as const) {
      let direct = 0;
      for (let y = py - 4; y < py + 4; y++)
        for (let x = px - 4; x < px + 4; x++)
          direct += at(x, y) - 0.5 * (bilinear(x + dx, y + dy, at) + bilinear(x - dx, y - dy, at));
      const box = (x: number, y: number) => sums[y * width + x] as number;
      const fromSums =
        box(px, py) - 0.5 * (bilinear(px + dx, py + dy, box) + bilinear(px - dx, py - dy, box));
      assert.ok(Math.abs(direct - fromSums) < 0.05, `${direct} vs ${fromSums}`);
    }
  });

  it("bounds a box's misregistration by the steps where its boundary crosses the reference", () => {
    // An 8 x 8 box with its 2-pixel rim (12 x 12). A one-pixel line in its middle: both of its
    // edges are inside, so a blur of it sums to nothing over the box, while each pixel's own
    // range would forgive 2 x 40 per row.
    const n = 12;
    const line = new Float64Array(n * n);
    for (let row = 0; row < n; row++) line[row * n + 5] = 40;
    assert.equal(stepBound(line, 0, n), 0);
    // An edge at the box's left boundary: its step, in each of the box's 8 rows.
    const edge = new Float64Array(n * n);
    for (let row = 0; row < n; row++) for (let col = 2; col < n; col++) edge[row * n + col] = 40;
    assert.equal(stepBound(edge, 0, n), 8 * 40);
  });

  it("gives back what the per-pixel allowance took from a one-signed spot on dense lines", () => {
    // An 8 x 8 px spot, 10 codes dark, on an array block of 1.25 px lines 80 codes bright: every
    // 2x2 range there is large, so the per-pixel allowance takes about half of the spot.
    const spot = { x: 209, y: 209, side: 8, contrast: 10 };
    const { before, after, evidence } = compare(patternedMap(spot));
    const inside = (values: Float32Array) => meanAbs(values, spot.x + 1, spot.y + 1, spot.side - 2);
    assert.ok(inside(before) < 0.6 * spot.contrast, `allowance left ${inside(before)}`);
    assert.ok(evidence.boxes > 0, "no box of evidence");
    assert.ok(inside(after) > 0.7 * spot.contrast, `restored ${inside(after)}`);
    // Only the spot's surroundings changed: nothing more than two boxes away from it.
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++) {
        const far = Math.max(Math.abs(x - spot.x - 4), Math.abs(y - spot.y - 4)) > 4 + 16;
        if (far) assert.equal(after[y * SIZE + x], before[y * SIZE + x], `changed at ${x},${y}`);
      }
  });

  it("finds nothing on the same pattern without a defect", () => {
    const { before, after, evidence } = compare(patternedMap(null));
    assert.equal(evidence.boxes, 0);
    assert.deepEqual(after, before);
  });
});
