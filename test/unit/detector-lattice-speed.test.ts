// The lattice search's cheaper inner loops (lattice-shift-cost.ts) give the same sample points and the same costs, digit for digit.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { kernelLayout, useKernels } from "../../endpoint/detector/kernel.ts";
import { lagCosts, samplePoints, shiftCost } from "../../endpoint/detector/lattice-shift-cost.ts";
import { sampleBilinear } from "../../endpoint/detector/raster.ts";
import { seededRandom } from "../../lib/random.ts";

/** samplePoints as it was written before (number[] and Math.hypot at every point): the reference. */
function referencePoints(
  region: { cx: number; cy: number; r: number },
  reach: number,
  target: number,
  map: { width: number; height: number },
) {
  const inner = region.r - reach;
  const xs: number[] = [];
  const ys: number[] = [];
  const step = Math.max(1, Math.floor(Math.sqrt((Math.PI * inner * inner) / target)));
  let i = 0;
  for (let y = Math.ceil(region.cy - inner); y < region.cy + inner; y += step) {
    for (let x = Math.ceil(region.cx - inner); x < region.cx + inner; x += step) {
      i++;
      const px = x + ((i * 0.6180339887498949) % 1) * step;
      const py = y + ((i * 0.7548776662466927) % 1) * step;
      const inFrame =
        px >= reach && py >= reach && px < map.width - 1 - reach && py < map.height - 1 - reach;
      if (inFrame && Math.hypot(px - region.cx, py - region.cy) < inner - 1) {
        xs.push(px);
        ys.push(py);
      }
    }
  }
  return { xs, ys };
}

describe("lattice sample points", () => {
  it("are the reference's points, for centred, clipped and tiny disks", () => {
    const random = seededRandom(3);
    for (let trial = 0; trial < 40; trial++) {
      const map = {
        width: 200 + Math.floor(random() * 900),
        height: 200 + Math.floor(random() * 900),
      };
      const region = {
        cx: map.width * (0.3 + 0.4 * random()),
        cy: map.height * (0.3 + 0.4 * random()),
        r: (trial === 0 ? 0.02 : 0.2 + 0.5 * random()) * Math.min(map.width, map.height),
      };
      const reach = trial === 1 ? region.r + 3 : 2 + random() * 60;
      const target = [500, 3000, 6000][trial % 3] as number;
      const got = samplePoints(region, reach, target, map);
      const expected = referencePoints(region, reach, target, map);
      assert.deepEqual(Array.from(got.xs), expected.xs, `trial ${trial}`);
      assert.deepEqual(Array.from(got.ys), expected.ys, `trial ${trial}`);
      assert.equal(got.reach, reach);
    }
  });
});

describe("shiftCost", () => {
  it("equals the mean squared difference of clamped bilinear samples, inside the reach and beyond it", () => {
    const random = seededRandom(4);
    const width = 300;
    const height = 260;
    const data = new Float32Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = Math.round(random() * 1020) / 4;
    const map = { width, height, scale: 2, data };
    const region = { cx: 150, cy: 130, r: 125 };
    const reach = 30;
    const points = samplePoints(region, reach, 2000, map);
    const base = Float64Array.from(points.xs, (x, i) =>
      sampleBilinear(data, width, height, x, points.ys[i] as number),
    );
    const samples = { ...points, base };
    // Shifts inside the reach take the unclamped path; the last ones leave the frame.
    for (const v of [
      { x: 0.37, y: -12.6 },
      { x: 29.9, y: 29.998 },
      { x: -29.999, y: 0.5 },
      { x: 140.2, y: 3.3 },
      { x: -5.5, y: -200.1 },
    ]) {
      let sum = 0;
      for (let i = 0; i < points.xs.length; i++) {
        const x = (points.xs[i] as number) + v.x;
        const y = (points.ys[i] as number) + v.y;
        const d = (base[i] as number) - sampleBilinear(data, width, height, x, y);
        sum += d * d;
      }
      assert.ok(Object.is(shiftCost(map, samples, v), sum / points.xs.length), JSON.stringify(v));
    }
  });
});

describe("lagCosts in the WebAssembly kernel", () => {
  it("gives shiftCost's cost at every lag, digit for digit, with the kernel on and off", () => {
    const random = seededRandom(5);
    for (let trial = 0; trial < 12; trial++) {
      const width = 120 + Math.floor(random() * 300);
      const height = 120 + Math.floor(random() * 300);
      const data = new Float32Array(width * height);
      // Quarters (many exact ties), then fractions, signed zeros and values far apart.
      for (let i = 0; i < data.length; i++) {
        const kind = trial % 3;
        data[i] =
          kind === 0
            ? Math.round(random() * 1020) / 4
            : kind === 1
              ? (random() - 0.5) * 1e6 * random() ** 8
              : random() < 0.3
                ? -0
                : random() * 3;
      }
      const map = { width, height, scale: 2, data };
      const r = 0.4 * Math.min(width, height);
      const region = { cx: width / 2 + random(), cy: height / 2 - random(), r };
      const reach = 2 + 0.35 * r * random();
      const points = samplePoints(region, reach, 200 + Math.floor(random() * 2000), map);
      const base = Float64Array.from(points.xs, (x, i) =>
        sampleBilinear(data, width, height, x, points.ys[i] as number),
      );
      const samples = { ...points, base };
      const angle = random() * Math.PI;
      const unit = { x: Math.cos(angle), y: Math.sin(angle) };
      // An odd or even count of lags, all inside the reach (the kernel's case); the last
      // trials reach past it (the JavaScript's clamped path, the same with the kernel on).
      const count = 3 + Math.floor(random() * 40);
      const longest = trial >= 10 ? reach * 3 : reach - 0.01;
      const lags = Array.from({ length: count }, (_, k) => (longest * (k + 1)) / count);
      const withKernel = lagCosts(map, samples, unit, lags);
      useKernels(false);
      const withoutKernel = lagCosts(map, samples, unit, lags);
      useKernels(true);
      const byShiftCost = lags.map((lag) =>
        shiftCost(map, samples, { x: unit.x * lag, y: unit.y * lag }),
      );
      for (let l = 0; l < count; l++) {
        assert.ok(Object.is(withKernel[l], byShiftCost[l]), `trial ${trial} lag ${l}`);
        assert.ok(Object.is(withoutKernel[l], byShiftCost[l]), `trial ${trial} lag ${l}`);
      }
    }
  });

  it("runs in the kernel where the lags stay inside (its sums are left in the kernel's memory)", () => {
    const width = 200;
    const height = 180;
    const random = seededRandom(6);
    const data = Float32Array.from({ length: width * height }, () => random() * 100);
    const map = { width, height, scale: 1, data };
    const points = samplePoints({ cx: 100, cy: 90, r: 80 }, 20, 500, map);
    const base = Float64Array.from(points.xs, (x, i) =>
      sampleBilinear(data, width, height, x, points.ys[i] as number),
    );
    const layout = kernelLayout(width, height);
    assert.ok(layout, "WebAssembly SIMD is available in the test runtime");
    const mapInKernel = new Float32Array(layout.buffer, layout.dataOffset, width * height);
    mapInKernel.fill(-1);
    lagCosts(map, { ...points, base }, { x: 1, y: 0 }, [3, 4.5, 6]);
    // The kernel path copies the map to where it reads it.
    assert.deepEqual(mapInKernel.subarray(0, 50), data.subarray(0, 50));
  });
});
