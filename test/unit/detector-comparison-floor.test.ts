// Unit test of the patterned noise floors on small dies: they come from the die-difference noise, where the pattern cancels, not from the raw map's Laplacian, which reads motif edges as noise.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";
import { comparisonStages } from "../helpers/comparison-stages.ts";

const size = 400;
const region: DiskRegion = { cx: 200, cy: 200, r: 185 };
const pitch = 16;
const street = 2;
const level = 1000;
const sigma = 4;

/**
 * A map of small dies (16 px: the spec's smallest pitch, 2% of the diameter, is about 14 map px
 * at 1536 px) with streets at 60% of the die level and a motif of fine detail inside each die
 * (1 px cells at +-1.5 noise sigmas: the spec allows any motif layout), white noise of
 * `sigma`; a bright particle of `particle` levels over 3 x 3 px at (cx, cy) if given.
 */
function smallDieMap(seed: number, particle?: { cx: number; cy: number; contrast: number }) {
  const random = seededRandom(seed);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const u = x % pitch;
      const v = y % pitch;
      const cell = (u * 7 + v * 3) % 5;
      const motif = [-1.5, 1.5, 0, 1.5, -1.5][cell] as number;
      const value = u < street || v < street ? 0.6 * level : level + motif * sigma;
      const inParticle =
        particle && Math.abs(x - particle.cx) <= 1 && Math.abs(y - particle.cy) <= 1;
      data[y * size + x] =
        value + (inParticle ? particle.contrast : 0) + sigma * standardNormal(random);
    }
  return { width: size, height: size, scale: 1, data } satisfies FloatMap;
}

function stages(map: FloatMap) {
  return comparisonStages(map, region);
}

describe("patterned noise floors on small dies", () => {
  it("the comparison's sigma reads the noise, not the motif the raw map's Laplacian reads", () => {
    const { noise, compared } = stages(smallDieMap(3));
    // The premise: the Laplacian on the raw map reads the motif's edges as noise.
    assert.ok(noise.sigmaMap > 2 * sigma, `sigmaMap ${noise.sigmaMap}, true ${sigma}`);
    // The smoothed map's per-pixel noise is 0.375 sigma (binomial gain of white noise).
    const truth = DETECTION.binomialNoiseGain * sigma;
    assert.ok(
      Math.abs(compared.comparisonSigma - truth) < 0.15 * truth,
      `comparison sigma ${compared.comparisonSigma}, true ${truth}`,
    );
  });

  it("a particle at the spec's must-find floor (5 noise sigmas) clears the seed; the floor from sigmaMap hid it", () => {
    // Centred in a die's flat inner area, away from the rim ring.
    const particle = { cx: 16 * 13 + 9, cy: 16 * 13 + 9, contrast: 5 * sigma };
    const { thresholds } = stages(smallDieMap(3, particle));
    const i = particle.cy * size + particle.cx;
    const score = thresholds.score[i] as number;
    const seed = thresholds.highAt(i);
    assert.ok(score > seed, `score ${score} under the seed threshold ${seed}`);
  });

  it("the same map without the particle seeds nothing at the lower floor", () => {
    const { thresholds } = stages(smallDieMap(3));
    const { cx, cy, r } = region;
    let seeded = 0;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 >= r * r) continue;
        const i = y * size + x;
        if (Math.abs(thresholds.score[i] as number) > thresholds.highAt(i)) seeded++;
      }
    assert.equal(seeded, 0, `${seeded} noise pixels over the seed threshold`);
  });
});
