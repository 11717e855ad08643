// Detect lends map buffers to stages that run before the buffers' own use (noise: the score's, lattice: the residual's): same answers as new arrays.
import { describe, expect, it } from "vitest";
import { measureLattice } from "../../endpoint/detector/lattice.ts";
import { estimateDieDifferenceNoise, estimateNoiseSigma } from "../../endpoint/detector/noise.ts";
import { measureNoise } from "../../endpoint/detector/stages/noise.ts";
import type { WaferPlace } from "../../endpoint/detector/stages/place.ts";

/** A disk of level 120 with a die-like pattern and seeded noise on a zero background. */
function raster(size: number, seed: number): Float32Array {
  const data = new Float32Array(size * size);
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
  const c = size / 2;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      if ((x - c) ** 2 + (y - c) ** 2 >= (0.45 * size) ** 2) continue;
      const pattern = x % 17 < 2 || y % 13 < 2 ? -30 : 0;
      data[y * size + x] = Math.fround(120 + pattern + 6 * (next() + next() + next() - 1.5));
    }
  return data;
}

describe("lent scratch for the noise stage", () => {
  const size = 400;
  const region = { cx: 200, cy: 200, r: 170 };
  const wafer = { analysis: region } as unknown as WaferPlace;

  it("gives the same sigma and level as fresh arrays, whatever the scratch held", () => {
    for (const seed of [1, 7, 42]) {
      const data = raster(size, seed);
      const work = { data, width: size, height: size, scale: 1 };
      const fresh = measureNoise(work, wafer);
      const dirty = new Float32Array(size * size).fill(Number.NaN);
      dirty[5] = -1e30;
      const lent = measureNoise(work, wafer, dirty);
      expect(Object.is(lent.sigmaMap, fresh.sigmaMap)).toBe(true);
      expect(Object.is(lent.level, fresh.level)).toBe(true);
      // The scratch was really used (its values overwritten), not passed over.
      expect(Number.isNaN(dirty[0] as number)).toBe(false);
      // Sparse sampling (maxSamples) and a scratch too small for it (new arrays) agree too.
      for (const scratch of [new Float32Array(size * size), new Float32Array(100)])
        expect(
          Object.is(
            estimateNoiseSigma(data, size, size, region, 20_000, scratch),
            estimateNoiseSigma(data, size, size, region, 20_000),
          ),
        ).toBe(true);
    }
  });

  it("takes the median of a map with negative values from the lent float32 scratch", () => {
    const data = raster(size, 3).map((v) => v - 200);
    const work = { data, width: size, height: size, scale: 1 };
    const fresh = measureNoise(work, wafer);
    const lent = measureNoise(work, wafer, new Float32Array(size * size).fill(9));
    expect(fresh.level).toBeLessThan(0);
    expect(Object.is(lent.level, fresh.level)).toBe(true);
    expect(Object.is(lent.sigmaMap, fresh.sigmaMap)).toBe(true);
  });
});

describe("lent buffer for the die-difference noise's samples", () => {
  it("gives the same sigma as a new array, whatever the buffer held; too small or odd: a new one", () => {
    const size = 400;
    const data = raster(size, 11);
    const region = { cx: 200, cy: 200, r: 170 };
    const a = { x: 17, y: 0 };
    const b = { x: 0, y: 13 };
    const fresh = estimateDieDifferenceNoise(data, size, size, region, a, b);
    expect(fresh).toBeGreaterThan(0);
    const lent = new Float32Array(size * size).fill(Number.NaN);
    expect(
      Object.is(estimateDieDifferenceNoise(data, size, size, region, a, b, undefined, lent), fresh),
    ).toBe(true);
    expect(Number.isNaN(lent[0] as number)).toBe(false);
    // A view at an offset that is no multiple of 8 bytes cannot hold doubles: left alone.
    const odd = new Float32Array(size * size + 1).fill(Number.NaN).subarray(1);
    const small = new Float32Array(10).fill(Number.NaN);
    for (const scratch of [odd, small]) {
      expect(
        Object.is(
          estimateDieDifferenceNoise(data, size, size, region, a, b, undefined, scratch),
          fresh,
        ),
      ).toBe(true);
      expect(Number.isNaN(scratch[0] as number)).toBe(true);
    }
  });
});

describe("lent buffer for the lattice search's coarse map", () => {
  it("finds the same lattice as with its own buffer, from a lent one whatever it held", () => {
    const size = 512;
    const data = new Float32Array(size * size);
    let state = 99;
    const next = () => {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      return state / 4_294_967_296;
    };
    // Dies of 40 x 30 px turned by 2 degrees: streets 3 px wide, a bright block per die.
    const c = Math.cos(Math.PI / 90);
    const s = Math.sin(Math.PI / 90);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const u = (((x * c + y * s) % 40) + 40) % 40;
        const v = (((-x * s + y * c) % 30) + 30) % 30;
        const level = u < 3 || v < 3 ? 600 : u > 12 && u < 24 && v > 8 && v < 20 ? 1150 : 1000;
        data[y * size + x] = level + 16 * (next() + next() + next() - 1.5);
      }
    const map = { width: size, height: size, scale: 1, data };
    const region = { cx: 256, cy: 256, r: 240 };
    // A 1000 px wafer diameter: its shortest searched pitch (15 px) makes the search coarse (2 x 2).
    const own = measureLattice(map, region, 1000, 92, 8);
    const lent = new Float32Array(size * size).fill(Number.NaN);
    const withLent = measureLattice(map, region, 1000, 92, 8, undefined, lent);
    expect(own).not.toBeNull();
    expect(JSON.stringify(withLent)).toBe(JSON.stringify(own));
    // The coarse map (a quarter of the map's pixels) was built in the lent buffer.
    expect(Number.isNaN(lent[0] as number)).toBe(false);
  });
});
