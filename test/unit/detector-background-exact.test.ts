// The background fit's rewrite (background.ts fitSmoothBackground, branch thr3) gives the coefficients of the version it replaced, written out here, to the last bit.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { fitSmoothBackground, solveLinear } from "../../endpoint/detector/background.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

function polynomialTerms(degree: number): Array<[number, number]> {
  const terms: Array<[number, number]> = [];
  for (let total = 0; total <= degree; total++) {
    for (let j = 0; j <= total; j++) terms.push([total - j, j]);
  }
  return terms;
}

/** fitSmoothBackground before branch thr3: block means in number[], a row-major basis, a sort per iteration. */
function plainFitSmoothBackground(
  map: FloatMap,
  region: DiskRegion,
  noiseSigma: number,
  degree = 4,
): { coefficients: Float64Array } {
  const block = Math.max(2, Math.round(region.r / 24));
  const us: number[] = [];
  const vs: number[] = [];
  const values: number[] = [];
  for (
    let by = Math.floor((region.cy - region.r) / block);
    by * block < region.cy + region.r;
    by++
  ) {
    for (
      let bx = Math.floor((region.cx - region.r) / block);
      bx * block < region.cx + region.r;
      bx++
    ) {
      const x0 = bx * block;
      const y0 = by * block;
      const mx = x0 + block / 2 - 0.5;
      const my = y0 + block / 2 - 0.5;
      if (x0 < 0 || y0 < 0 || x0 + block > map.width || y0 + block > map.height) continue;
      if (Math.hypot(mx - region.cx, my - region.cy) > region.r - block * 0.75) continue;
      let sum = 0;
      for (let y = y0; y < y0 + block; y++) {
        for (let x = x0; x < x0 + block; x++) sum += map.data[y * map.width + x] as number;
      }
      us.push((mx - region.cx) / region.r);
      vs.push((my - region.cy) / region.r);
      values.push(sum / (block * block));
    }
  }
  const terms = polynomialTerms(degree);
  const m = terms.length;
  const count = values.length;
  const basis = new Float64Array(count * m);
  // Blocks of one column share u, of one row v: each power is taken once per distinct value
  // (the same u ** p as per block, so the same basis to the last bit).
  const powers = new Map<number, Float64Array>();
  const powersOf = (w: number): Float64Array => {
    let table = powers.get(w);
    if (!table) {
      table = new Float64Array(degree + 1);
      for (let p = 0; p <= degree; p++) table[p] = w ** p;
      powers.set(w, table);
    }
    return table;
  };
  for (let i = 0; i < count; i++) {
    const pu = powersOf(us[i] as number);
    const pv = powersOf(vs[i] as number);
    for (let t = 0; t < m; t++) {
      const [p, q] = terms[t] as [number, number];
      basis[i * m + t] = (pu[p] as number) * (pv[q] as number);
    }
  }
  const weights = new Float64Array(count).fill(1);
  let coefficients: Float64Array = new Float64Array(m);
  const residuals = new Float64Array(count);
  // The block mean's own noise floor keeps the biweight from rejecting honest blocks.
  const floor = (3 * noiseSigma) / block;
  for (let iteration = 0; iteration < 8; iteration++) {
    const a = new Float64Array(m * m);
    const b = new Float64Array(m);
    for (let i = 0; i < count; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      const row = i * m;
      const value = values[i] as number;
      for (let r = 0; r < m; r++) {
        const br = (basis[row + r] as number) * w;
        b[r] = (b[r] as number) + br * value;
        for (let c = r; c < m; c++)
          a[r * m + c] = (a[r * m + c] as number) + br * (basis[row + c] as number);
      }
    }
    for (let r = 0; r < m; r++) for (let c = 0; c < r; c++) a[r * m + c] = a[c * m + r] as number;
    const solved = solveLinear(a, b, m);
    if (!solved) break;
    coefficients = solved;
    for (let i = 0; i < count; i++) {
      let model = 0;
      for (let t = 0; t < m; t++)
        model += (basis[i * m + t] as number) * (coefficients[t] as number);
      residuals[i] = (values[i] as number) - model;
    }
    const sorted = Float64Array.from(residuals, Math.abs).sort();
    const scale = Math.max(floor, 1.4826 * (sorted[Math.floor(count / 2)] ?? 0));
    const c = 4.685 * scale;
    for (let i = 0; i < count; i++) {
      const z = (residuals[i] as number) / c;
      weights[i] = Math.abs(z) < 1 ? (1 - z * z) ** 2 : 0;
    }
  }
  return { coefficients };
}

/** A lit disk with a tilt, a stain and a void, Gaussian noise, on a dark chuck. */
function wafer(
  width: number,
  height: number,
  disk: DiskRegion,
  seed: number,
  whole = false,
): FloatMap {
  const random = seededRandom(seed);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - disk.cx) ** 2 + (y - disk.cy) ** 2 < disk.r ** 2;
      const stain = (x - disk.cx - 0.4 * disk.r) ** 2 + (y - disk.cy) ** 2 < (0.15 * disk.r) ** 2;
      const hole = (x - disk.cx) ** 2 + (y - disk.cy + 0.5 * disk.r) ** 2 < (0.06 * disk.r) ** 2;
      const level = 150 + 20 * ((x - disk.cx) / disk.r) - 12 * ((y - disk.cy) / disk.r) ** 2;
      const value = inside
        ? level + (stain ? 15 : 0) - (hole ? 60 : 0) + 3 * standardNormal(random)
        : 20;
      // Binned 8-bit levels are quarters; float maps are not.
      data[y * width + x] = whole ? Math.round(4 * value) / 4 : value;
    }
  }
  return { width, height, scale: 2, data };
}

describe("background fit (background.ts fitSmoothBackground)", () => {
  const cases: Array<[string, number, number, DiskRegion, boolean]> = [
    ["centred disk, quarters", 420, 400, { cx: 210.3, cy: 199.6, r: 180.2 }, true],
    ["disk cut by the frame", 300, 260, { cx: 140.5, cy: 150.2, r: 150.7 }, false],
    ["small disk, 2 px blocks", 120, 110, { cx: 60.1, cy: 55.4, r: 40.3 }, false],
    ["off-centre disk", 500, 500, { cx: 260.8, cy: 230.1, r: 210.9 }, true],
  ];
  for (const [name, width, height, disk, whole] of cases) {
    it(`gives the replaced version's coefficients to the last bit: ${name}`, () => {
      for (const [seed, degree, sigma] of [
        [1, 4, 3],
        [2, 2, 0],
        [3, 4, 40],
      ] as const) {
        const map = wafer(width, height, disk, seed, whole);
        const got = fitSmoothBackground(map, disk, sigma, degree).coefficients;
        const want = plainFitSmoothBackground(map, disk, sigma, degree).coefficients;
        assert.equal(got.length, want.length);
        for (let t = 0; t < want.length; t++)
          assert.ok(Object.is(got[t], want[t]), `seed ${seed} term ${t}: ${got[t]} vs ${want[t]}`);
      }
    });
  }
});
