// synth's sensor noise is Gaussian per pixel: no value of a small table repeated into a cluster of equally deep pixels.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { designWafer } from "../../synth/generate.ts";
import { quantise } from "../../synth/render.ts";

const SIDE = 1024;
const FULL_SCALE = 65535;
const MID_LEVEL = 0.5;
const NOISE_SIGMA = 0.02; // of full scale: 1,311 codes, so 16-bit quantisation keeps almost every draw distinct

/** The noise of a flat grey frame, in sigmas, for a given noise seed. */
function flatNoise(noiseSeed: number): Float64Array {
  const design = {
    ...designWafer(5, 0, { size: 512 }),
    artefacts: undefined,
    noiseSeed,
    noiseSigma: NOISE_SIGMA,
  };
  const pixels = quantise(design, new Float32Array(SIDE * SIDE).fill(MID_LEVEL), FULL_SCALE);
  const sigma = NOISE_SIGMA * FULL_SCALE;
  // A loop, not Float64Array.from(pixels, map): the same values, without about 0.25 s of CPU
  // per call spent in from's per-element iteration.
  const noise = new Float64Array(pixels.length);
  for (let k = 0; k < pixels.length; k++)
    noise[k] = ((pixels[k] as number) - MID_LEVEL * FULL_SCALE) / sigma;
  return noise;
}

describe("synth sensor noise (render.ts quantise)", () => {
  for (const noiseSeed of [1, 13_507, 20_261_515]) {
    it(`has the sensor's sigma and a Gaussian tail, its extremes each drawn once (noise seed ${noiseSeed})`, () => {
      const noise = flatNoise(noiseSeed);
      let sum = 0;
      let squares = 0;
      let beyondFour = 0;
      let lowest = Number.POSITIVE_INFINITY;
      let highest = Number.NEGATIVE_INFINITY;
      for (const value of noise) {
        sum += value;
        squares += value * value;
        if (Math.abs(value) > 4) beyondFour++;
        lowest = Math.min(lowest, value);
        highest = Math.max(highest, value);
      }
      const mean = sum / noise.length;
      const sd = Math.sqrt(squares / noise.length - mean * mean);
      // The table's own mean (65,536 draws) errs by about 0.004 sigma, and each pixel sums two draws of it.
      assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
      assert.ok(Math.abs(sd - 1) < 0.01, `sd ${sd}`);
      // P(|z| > 4) = 6.33e-5: 66 of 1,048,576 pixels expected; a Poisson count within 5 of its sigmas.
      assert.ok(
        Math.abs(beyondFour - 66.4) < 5 * Math.sqrt(66.4),
        `${beyondFour} pixels beyond 4 sigma`,
      );
      // One table of 65,536 normals drew each value 16 times over this frame: its deepest entry became a
      // cluster. Independent draws make the extremes single pixels.
      const atLowest = noise.filter((value) => value === lowest).length;
      const atHighest = noise.filter((value) => value === highest).length;
      assert.ok(atLowest <= 2, `${atLowest} pixels at the lowest value ${lowest.toFixed(2)} sigma`);
      assert.ok(
        atHighest <= 2,
        `${atHighest} pixels at the highest value ${highest.toFixed(2)} sigma`,
      );
    });
  }
});
