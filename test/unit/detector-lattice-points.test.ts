// The lattice's scattered disk points (lattice-projections.ts diskPoints) from the per-stride offset table equal the per-cell arithmetic they replace (branch speed10).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { diskPoints, type PointSet } from "../../endpoint/detector/lattice-projections.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { seededRandom } from "../../lib/random.ts";

/** diskPoints as it was: each cell's scattered offsets worked out in the loop. */
function previousDiskPoints(
  map: FloatMap,
  region: DiskRegion,
  stride: number,
  scattered = false,
): PointSet {
  const capacity = Math.ceil(0.8 * ((2 * region.r) / stride + 2) ** 2) + 64;
  const dx = new Float32Array(capacity);
  const dy = new Float32Array(capacity);
  const value = new Float32Array(capacity);
  const r2 = region.r * region.r;
  let n = 0;
  let cell = 0;
  const yEnd = Math.min(map.height, region.cy + region.r);
  const xEnd = Math.min(map.width, region.cx + region.r);
  const xLast = Math.ceil(xEnd) - 1;
  const yLast = Math.ceil(yEnd) - 1;
  for (let gy = Math.max(0, Math.ceil(region.cy - region.r)); gy < yEnd; gy += stride) {
    for (let gx = Math.max(0, Math.ceil(region.cx - region.r)); gx < xEnd; gx += stride) {
      let x = gx;
      let y = gy;
      if (scattered) {
        cell++;
        const tx = cell * 0.6180339887498949;
        const ty = cell * 0.7548776662466927;
        x = Math.min(xLast, gx + Math.floor((tx - Math.floor(tx)) * stride));
        y = Math.min(yLast, gy + Math.floor((ty - Math.floor(ty)) * stride));
      }
      const ox = x - region.cx;
      const oy = y - region.cy;
      if (ox * ox + oy * oy > r2 || n >= capacity) continue;
      dx[n] = ox;
      dy[n] = oy;
      value[n] = map.data[y * map.width + x] as number;
      n++;
    }
  }
  return { dx: dx.subarray(0, n), dy: dy.subarray(0, n), value: value.subarray(0, n) };
}

/** Bit for bit (stricter than Object.is per value); the first differing value named on failure. */
function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const bits = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (bits(a).equals(bits(b))) return;
  const i = a.findIndex((value, k) => !Object.is(value, b[k]));
  assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

describe("diskPoints from the scattered offsets' table (branch speed10)", () => {
  it("gives the per-cell version's points and values, small disks after large ones and back", () => {
    const random = seededRandom(3);
    const map: FloatMap = { width: 700, height: 640, scale: 1, data: new Float32Array(700 * 640) };
    for (let i = 0; i < map.data.length; i++) map.data[i] = Math.round(random() * 1000) / 8;
    // Inside the map, past its edges, fractional centres, a tiny disk; each stride the
    // detector uses (4, 8) and others (300: the table of whole words, not bytes); the table
    // grows on the large disks and serves the small.
    const regions: DiskRegion[] = [
      { cx: 120.5, cy: 100.25, r: 60 },
      { cx: 350, cy: 320, r: 300 },
      { cx: 349.7, cy: 318.2, r: 330 },
      { cx: 10.5, cy: 630.5, r: 45.5 },
      { cx: 350, cy: 320, r: 3.2 },
      { cx: 200.1, cy: 220.9, r: 150.3 },
    ];
    for (const stride of [4, 8, 3, 5, 1, 300]) {
      for (const region of regions) {
        for (const scattered of [true, false]) {
          const got = diskPoints(map, region, stride, scattered);
          const want = previousDiskPoints(map, region, stride, scattered);
          const what = `stride ${stride} disk (${region.cx}, ${region.cy}, ${region.r})`;
          sameBits(got.dx, want.dx, `${what} dx`);
          sameBits(got.dy, want.dy, `${what} dy`);
          sameBits(got.value, want.value, `${what} value`);
        }
      }
    }
  });
});
