// Unit test of the rim ring's noise units: the pixels only extrapolations decide keep at least their own measured unit, whatever the quieter pixels that pairs decide do to the ring's pooled one.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  EDGE_GAIN_UNIT,
  FOUR_EXTRAPOLATIONS_GAIN,
  PAIR_PRECISE_GAIN,
} from "../../endpoint/detector/die-to-die-rim-ring.ts";
import type { Lattice } from "../../endpoint/detector/lattice.ts";
import type { WaferPlace } from "../../endpoint/detector/stages/place.ts";
import { detectionThresholds } from "../../endpoint/detector/stages/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

const size = 400;
const region = { cx: 200, cy: 200, r: 185 };

describe("rim ring noise units", () => {
  it("the extrapolated pixels' seed follows their own noise, not the pooled ring's", () => {
    // A flat map; residual noise of unit 10 per gain inside and where a pair decides
    // (150-170 px out, gain 1.12), of unit 20 per gain where four extrapolations decide
    // (170 px out and beyond, gain 1.51): the ring's pooled unit lies between.
    const random = seededRandom(11);
    const data = new Float32Array(size * size);
    const residual = new Float32Array(size * size);
    const edgeMask = new Uint8Array(size * size);
    const edgeGain = new Uint8Array(size * size).fill(EDGE_GAIN_UNIT);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        data[i] = 1000 + 4 * standardNormal(random);
        const r = Math.hypot(x - region.cx, y - region.cy);
        let unit = 1;
        if (r > 150) {
          edgeMask[i] = 1;
          edgeGain[i] = r > 170 ? FOUR_EXTRAPOLATIONS_GAIN : PAIR_PRECISE_GAIN;
          unit = ((edgeGain[i] as number) / EDGE_GAIN_UNIT) * (r > 170 ? 2 : 1);
        }
        residual[i] = 10 * unit * standardNormal(random);
      }
    const wafer = {
      analysis: region,
      circle: { cx: region.cx, cy: region.cy, r: region.r + 5 },
    } as unknown as WaferPlace;
    const lattice = { a: { x: 40, y: 0 }, b: { x: 0, y: 40 } } as unknown as Lattice;
    const thresholds = detectionThresholds(
      { width: size, height: size, scale: 1, data },
      wafer,
      { sigmaMap: 4, level: 1000 },
      residual,
      lattice,
      edgeMask,
      0.5,
      edgeGain,
    );
    const perGain = (x: number, y: number) => {
      const i = y * size + x;
      return thresholds.highAt(i) / ((edgeGain[i] as number) / EDGE_GAIN_UNIT);
    };
    const pairSeed = perGain(200 + 160, 200);
    const extrapolatedSeed = perGain(200 + 180, 200);
    const interiorSeed = perGain(200, 200);
    // The pooled unit reads both kinds; the extrapolated pixels' own is twice the pairs'.
    assert.ok(pairSeed >= interiorSeed, `pair ${pairSeed} vs interior ${interiorSeed}`);
    assert.ok(
      extrapolatedSeed > 1.15 * pairSeed,
      `extrapolated ${extrapolatedSeed} vs pair ${pairSeed} per unit of gain`,
    );
    assert.ok(
      extrapolatedSeed > 1.8 * interiorSeed,
      `extrapolated ${extrapolatedSeed} vs interior ${interiorSeed} per unit of gain`,
    );
  });
});
