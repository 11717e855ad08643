// The die-to-die stage's faster code gives exactly the numbers of the plain versions written out here (speed work must not move a detection).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { estimateDieDifferenceNoise } from "../../endpoint/detector/noise.ts";
import { quantileInPlace } from "../../endpoint/detector/raster.ts";
import { seededRandom } from "../../lib/random.ts";

interface Region {
  cx: number;
  cy: number;
  r: number;
}
interface Vec {
  x: number;
  y: number;
}

/**
 * The die-difference noise estimate as first written (closures, lists, a per-sample rounding
 * of every reference): the reference the tabled version must match to the last bit.
 */
function plainDieDifferenceNoise(
  data: Float32Array,
  width: number,
  height: number,
  region: Region,
  a: Vec,
  b: Vec,
  maxSamples = 100_000,
): number {
  const step = Math.max(1, Math.round(Math.sqrt((Math.PI * region.r * region.r) / maxSamples)));
  const reach = Math.hypot(a.x, a.y) + Math.hypot(b.x, b.y) + 2;
  const inner = region.r - reach;
  if (inner <= 4) return 0;
  const sample = (x: number, y: number): number =>
    data[Math.round(y) * width + Math.round(x)] as number;
  const localRange = (x: number, y: number): number => {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const v = sample(x + dx, y + dy);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    return hi - lo;
  };
  const diffs: number[] = [];
  const ranges: number[] = [];
  for (let y = Math.ceil(region.cy - inner); y <= region.cy + inner; y += step) {
    if (y < 2 || y >= height - 2) continue;
    for (let x = Math.ceil(region.cx - inner); x <= region.cx + inner; x += step) {
      if (x < 2 || x >= width - 2) continue;
      if ((x - region.cx) ** 2 + (y - region.cy) ** 2 > inner * inner) continue;
      const v = data[y * width + x] as number;
      diffs.push(v - 0.5 * (sample(x + a.x, y + a.y) + sample(x - a.x, y - a.y)));
      ranges.push(Math.min(localRange(x + b.x, y + b.y), localRange(x - b.x, y - b.y)));
    }
  }
  const n = diffs.length;
  if (n < 64) return 0;
  const abs = Float64Array.from(diffs, Math.abs);
  const first = (1.4826 * quantileInPlace(abs, n, 0.5)) / Math.sqrt(1.5);
  const gate = 5 * first;
  let m = 0;
  for (let i = 0; i < n; i++) {
    if ((ranges[i] as number) <= gate) abs[m++] = Math.abs(diffs[i] as number);
  }
  if (m < 0.2 * n) return first;
  return (1.4826 * quantileInPlace(abs, m, 0.5)) / Math.sqrt(1.5);
}

/**
 * A die grid with a sharp motif (so the gate matters), a level gradient, a few bright spots and
 * Gaussian noise; integer-valued when `integer` (ties in the medians, as 8-bit data has).
 */
function patternedRaster(
  width: number,
  height: number,
  a: Vec,
  b: Vec,
  seed: number,
  integer: boolean,
): Float32Array {
  const random = seededRandom(seed);
  const det = a.x * b.y - a.y * b.x;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (x * b.y - y * b.x) / det;
      const t = (a.x * y - a.y * x) / det;
      const u = s - Math.floor(s);
      const v = t - Math.floor(t);
      const motif = u > 0.3 && u < 0.6 && v > 0.2 && v < 0.7 ? 180 : u < 0.08 || v < 0.08 ? -90 : 0;
      const noise = 6 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const value = 900 + 0.2 * x - 0.1 * y + motif + noise + (random() < 0.001 ? 400 : 0);
      data[y * width + x] = integer ? Math.round(value) : value;
    }
  }
  return data;
}

/** Lattice vectors with fractions of every kind, including exact halves (rounding ties). */
const LATTICES: Array<{ a: Vec; b: Vec }> = [
  { a: { x: 24, y: 0 }, b: { x: 0, y: 24 } },
  { a: { x: 23.5, y: 0.5 }, b: { x: -0.5, y: 19.5 } },
  { a: { x: -46.75, y: 12.72 }, b: { x: 11.17, y: 41.29 } },
  { a: { x: 31.337, y: -2.5 }, b: { x: 1.4999999, y: 27.0000001 } },
];

describe("die-difference noise estimate", () => {
  const regions: Region[] = [
    { cx: 200, cy: 190, r: 180 },
    { cx: 199.5, cy: 201.25, r: 187.3 },
    // A disk touching the frame's edges.
    { cx: 205, cy: 197, r: 196 },
  ];
  for (const [k, lattice] of LATTICES.entries()) {
    for (const integer of [false, true]) {
      it(`matches the plain version exactly (lattice ${k}, ${integer ? "integer" : "float"} data)`, () => {
        const width = 410;
        const height = 395;
        const data = patternedRaster(width, height, lattice.a, lattice.b, 31 + k, integer);
        for (const region of regions) {
          for (const maxSamples of [100_000, 7_000]) {
            const expected = plainDieDifferenceNoise(
              data,
              width,
              height,
              region,
              lattice.a,
              lattice.b,
              maxSamples,
            );
            const actual = estimateDieDifferenceNoise(
              data,
              width,
              height,
              region,
              lattice.a,
              lattice.b,
              maxSamples,
            );
            assert.ok(expected > 0, "the plain version measured a sigma");
            assert.ok(Object.is(actual, expected), `${actual} vs ${expected}`);
          }
        }
      });
    }
  }

  it("returns 0 where the disk leaves no room for the references", () => {
    const data = new Float32Array(100 * 100);
    const region = { cx: 50, cy: 50, r: 30 };
    assert.equal(
      estimateDieDifferenceNoise(data, 100, 100, region, { x: 14, y: 0 }, { x: 0, y: 14 }),
      0,
    );
  });
});
