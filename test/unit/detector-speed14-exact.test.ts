// speed14's exact cuts outside the die-to-die list: structuredBlockShare on typed arrays against main's version written out here, and the residual kernel's kept interpolations (one row to the next) against the JavaScript path.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import {
  backgroundRowCoefficients,
  fitSmoothBackground,
  type SmoothBackground,
  structuredBlockShare,
} from "../../endpoint/detector/background.ts";
import { dieToDieResidual, useResidualKernel } from "../../endpoint/detector/die-to-die.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

/** structuredBlockShare as main 880398a wrote it (Array.from, map, filter, sort). */
function plainStructuredBlockShare(
  work: FloatMap,
  background: SmoothBackground,
  region: DiskRegion,
  limit: number,
  blocksPerSide: number,
): number {
  const { width, height } = work;
  const step = Math.max(1, Math.floor(region.r / 100));
  const blocks = blocksPerSide * blocksPerSide;
  const totals = new Float64Array(blocks);
  const outs = new Float64Array(blocks);
  const blockSide = (2 * region.r) / blocksPerSide;
  const x0 = region.cx - region.r;
  const y0 = region.cy - region.r;
  const yEnd = Math.min(height, region.cy + region.r);
  const xEnd = Math.min(width, region.cx + region.r);
  const row = new Float64Array(background.degree + 1);
  for (let y = Math.max(0, Math.ceil(region.cy - region.r)); y < yEnd; y += step) {
    backgroundRowCoefficients(background, y, row);
    const by = Math.min(blocksPerSide - 1, Math.floor((y - y0) / blockSide));
    for (let x = Math.max(0, Math.ceil(region.cx - region.r)); x < xEnd; x += step) {
      if ((x - region.cx) ** 2 + (y - region.cy) ** 2 >= region.r ** 2) continue;
      const b = by * blocksPerSide + Math.min(blocksPerSide - 1, Math.floor((x - x0) / blockSide));
      totals[b] = (totals[b] as number) + 1;
      const u = (x - region.cx) / region.r;
      let model = 0;
      for (let p = background.degree; p >= 0; p--) model = model * u + (row[p] as number);
      if (Math.abs((work.data[y * width + x] as number) - model) > limit)
        outs[b] = (outs[b] as number) + 1;
    }
  }
  // Blocks mostly off the disk (corners) say little: only those with a fair sample count.
  const counts = Array.from(totals);
  const fair = 0.5 * Math.max(...counts);
  const shares = counts
    .map((t, b) => (t >= fair && t > 0 ? (outs[b] as number) / t : Number.NaN))
    .filter((v) => !Number.isNaN(v))
    .sort((p, q) => p - q);
  return shares.length > 0 ? (shares[Math.floor(shares.length / 2)] as number) : 0;
}

/** A lit disk with a gradient, noise, an optional die grid and an optional large stain. */
function disk(
  width: number,
  height: number,
  region: DiskRegion,
  seed: number,
  grid: boolean,
  stain: boolean,
): FloatMap {
  const random = seededRandom(seed);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const inside = (x - region.cx) ** 2 + (y - region.cy) ** 2 < region.r ** 2;
      const motif = grid && (x % 23 < 3 || y % 19 < 2) ? -40 : 0;
      const blot = stain && Math.hypot(x - region.cx - 30, y - region.cy) < 40 ? 25 : 0;
      data[y * width + x] = inside
        ? 500 + 0.3 * (x - region.cx) + motif + blot + 4 * standardNormal(random)
        : 30;
    }
  return { width, height, scale: 2, data };
}

describe("structuredBlockShare on typed arrays", () => {
  const cases: Array<[string, number, number, DiskRegion, boolean, boolean]> = [
    ["patterned, centred", 300, 280, { cx: 150.2, cy: 139.7, r: 130.4 }, true, false],
    ["bare with a stain", 300, 280, { cx: 150.2, cy: 139.7, r: 130.4 }, false, true],
    ["disk cut by the frame", 240, 220, { cx: 110.5, cy: 120.3, r: 125.1 }, true, true],
    ["small disk", 90, 80, { cx: 45.5, cy: 40.2, r: 30.3 }, false, false],
  ];
  for (const [name, width, height, region, grid, stain] of cases) {
    it(`gives main's share to the last bit: ${name}`, () => {
      for (const [seed, limitSigmas, blocks] of [
        [1, 3, 8],
        [2, 1, 5],
        [3, 0.2, 12],
      ] as const) {
        const map = disk(width, height, region, seed, grid, stain);
        const background: SmoothBackground = fitSmoothBackground(map, region, 4);
        const limit = limitSigmas * 4;
        const got = structuredBlockShare(map, background, region, limit, blocks);
        const want = plainStructuredBlockShare(map, background, region, limit, blocks);
        assert.ok(Object.is(got, want), `seed ${seed}: ${got} vs ${want}`);
      }
    });
  }
});

describe("the residual kernel's interpolations kept from one row for the next", () => {
  afterEach(() => useResidualKernel(true));
  const sameBits = (x: ArrayBufferView, y: ArrayBufferView): boolean =>
    Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
      Buffer.from(y.buffer, y.byteOffset, y.byteLength),
    );
  const width = 260;
  const height = 300;
  const raster = (seed: number) => {
    const random = seededRandom(seed);
    return Float32Array.from({ length: width * height }, () => 100 + 20 * random());
  };
  const run = (
    data: Float32Array,
    a: { x: number; y: number },
    b: { x: number; y: number },
    region: DiskRegion,
    kernel: boolean,
  ) => {
    useResidualKernel(kernel);
    const out = new Float32Array(width * height);
    const edgeMask = new Uint8Array(width * height);
    const edgeGain = new Uint8Array(width * height);
    dieToDieResidual(
      { width, height, scale: 1, data },
      a,
      b,
      region,
      region.r + 2,
      1,
      out,
      edgeMask,
      edgeGain,
    );
    return { out, edgeMask, edgeGain };
  };

  it("are never read across maps, even where a map's first interior row follows the last one's", () => {
    // Interior pixels (every reference a pair on the wafer) are those the edge mask leaves 0.
    const interiorRows = (mask: Uint8Array, region: DiskRegion): number[] => {
      const rows: number[] = [];
      for (let y = 0; y < height; y++) {
        let inside = false;
        for (let x = 0; x < width && !inside; x++)
          inside =
            mask[y * width + x] === 0 &&
            (x - region.cx) ** 2 + (y - region.cy) ** 2 < region.r ** 2;
        if (inside) rows.push(y);
      }
      return rows;
    };
    const a1 = { x: 15.5, y: 0.25 };
    const b1 = { x: -0.25, y: 16.5 };
    const first: DiskRegion = { cx: 130.2, cy: 64.5, r: 66 };
    const firstRows = interiorRows(run(raster(31), a1, b1, first, false).edgeMask, first);
    const lastRow = firstRows[firstRows.length - 1] as number;
    // A second disk, on another map with another lattice, whose first interior row is the next
    // row: the kept interpolations of the first call's last interior row lie right above it.
    const a2 = { x: 17.25, y: 0.5 };
    const b2 = { x: -0.5, y: 15.75 };
    // The first such disk on a quarter-pixel grid of centres: a disk lower down starts its
    // interior no higher, so a bisection finds the first centre at or below that row (10 runs of
    // the residual, not the 160 of a walk down the grid).
    const map2 = raster(32);
    const firstInteriorRow = (cy: number): number => {
      const region = { cx: 130.2, cy, r: 66 };
      return interiorRows(run(map2, a2, b2, region, false).edgeMask, region)[0] ?? height;
    };
    let low = 120;
    let high = 260;
    assert.ok(firstInteriorRow(low) <= lastRow, "the search starts above the row");
    while (high - low > 0.25) {
      const mid = low + Math.floor((high - low) / 0.5) * 0.25;
      if (firstInteriorRow(mid) >= lastRow + 1) high = mid;
      else low = mid;
    }
    // low's disk starts its interior above that row, high's at it or below.
    const second: DiskRegion | null =
      firstInteriorRow(high) === lastRow + 1 ? { cx: 130.2, cy: high, r: 66 } : null;
    assert.ok(second, `no disk starts its interior at row ${lastRow + 1}`);
    const calls: Array<[number, { x: number; y: number }, { x: number; y: number }, DiskRegion]> = [
      [31, a1, b1, first],
      [32, a2, b2, second],
      [31, a1, b1, { cx: 130.2, cy: 130.1, r: 120 }],
    ];
    const simd = calls.map(([seed, a, b, region]) => run(raster(seed), a, b, region, true));
    const js = calls.map(([seed, a, b, region]) => run(raster(seed), a, b, region, false));
    for (let k = 0; k < calls.length; k++) {
      const got = simd[k] as ReturnType<typeof run>;
      const want = js[k] as ReturnType<typeof run>;
      assert.ok(sameBits(got.out, want.out), `call ${k}: residual differs`);
      assert.ok(sameBits(got.edgeMask, want.edgeMask), `call ${k}: edge mask differs`);
      assert.ok(sameBits(got.edgeGain, want.edgeGain), `call ${k}: edge gain differs`);
    }
  });
});
