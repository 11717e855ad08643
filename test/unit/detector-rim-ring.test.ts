// Unit test of the rim ring's die-to-die comparison: where pairs of neighbour dies stay on the wafer, a ring particle is compared with them (not with extrapolations) and clears the seed; a clean ring under the spec's vignetting stays clean.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { EDGE_GAIN_UNIT } from "../../endpoint/detector/die-to-die-rim-ring.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";
import { comparisonStages } from "../helpers/comparison-stages.ts";

const size = 400;
const region: DiskRegion = { cx: 200, cy: 200, r: 185 };
const level = 1000;
const sigma = 4;
const vignetting = 0.12;

interface Particle {
  cx: number;
  cy: number;
  contrast: number;
}

/**
 * A patterned map: dies of `pitch` px with streets of 4 px at 60% of the die
 * level and a bright bar motif (125%) in each die, all times the spec's strongest vignetting
 * (+-12%, cos^4-like, centred on the frame 3% off the wafer's centre: the gain falls by up to
 * 5% of the level per die towards the rim), white noise of `sigma`; 3 x 3 px particles of
 * `contrast` levels (before vignetting) where given.
 */
function vignettedDies(seed: number, pitch: number, particles: Particle[]): FloatMap {
  const random = seededRandom(seed);
  const scale = pitch / 40;
  const edge = (1 - vignetting) / (1 + vignetting);
  const falloff = (200 * 200) / (1 / Math.sqrt(edge) - 1);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const u = (x + 7) % pitch;
      const v = (y + 3) % pitch;
      let value = u < 4 || v < 4 ? 0.6 * level : level;
      if (u >= 12 * scale && u < 28 * scale && v >= 14 * scale && v < 22 * scale)
        value = 1.25 * level;
      for (const p of particles)
        if (Math.abs(x - p.cx) <= 1 && Math.abs(y - p.cy) <= 1) value += p.contrast;
      const q = 1 + ((x - 212) ** 2 + (y - 190) ** 2) / falloff;
      data[y * size + x] = (value * (1 + vignetting)) / (q * q) + sigma * standardNormal(random);
    }
  return { width: size, height: size, scale: 1, data };
}

function stages(map: FloatMap) {
  return comparisonStages(map, region);
}

/** The best smoothed score over its seed threshold within 2 px of (cx, cy), and where. */
function bestRatio(run: ReturnType<typeof stages>, { cx, cy }: Particle) {
  let ratio = 0;
  let at = 0;
  for (let dy = -2; dy <= 2; dy++)
    for (let dx = -2; dx <= 2; dx++) {
      const i = (cy + dy) * size + cx + dx;
      const r = (run.thresholds.score[i] as number) / run.thresholds.highAt(i);
      if (r > ratio) {
        ratio = r;
        at = i;
      }
    }
  return { ratio, at };
}

describe("rim ring: pairs of neighbour dies left on the wafer", () => {
  // Particles of 5.5% of the level (14 noise sigmas) in flat die areas, in the ring (some
  // neighbour one die away is off the wafer), where two of the four directions still have both
  // neighbours on the wafer; one in the interior as the control.
  const contrast = 55;
  const twoPairs: Particle[] = [
    { cx: 286, cy: 332, contrast },
    { cx: 136, cy: 62, contrast },
  ];
  const interiorParticle: Particle = { cx: 151, cy: 155, contrast };
  const run = stages(vignettedDies(5, 30, [...twoPairs, interiorParticle]));
  const gainAt = (at: number) => (run.compared.edgeGain[at] as number) / EDGE_GAIN_UNIT;

  it("a ring particle compared with the pairs on the wafer clears the seed (extrapolated references hid it)", () => {
    const inside = bestRatio(run, interiorParticle);
    assert.equal(run.compared.edgeMask[inside.at], 0, "the control is interior");
    assert.ok(inside.ratio > 1.5, `interior particle at ${inside.ratio} of its seed`);
    for (const particle of twoPairs) {
      const { ratio, at } = bestRatio(run, particle);
      const where = `(${particle.cx}, ${particle.cy})`;
      assert.equal(run.compared.edgeMask[at], 1, `${where} is in the ring`);
      // Two pairs must exceed together: a noise gain of 1.035 over the interior's
      // (referenceNoiseGain).
      const gain = gainAt(at);
      assert.ok(gain < 1.1, `${where} gain ${gain}`);
      assert.ok(ratio > 1, `${where} at ${ratio} of its seed`);
    }
  });

  for (const pitch of [30, 40])
    it(`a clean ring under the spec's strongest vignetting stays under the seed (pitch ${pitch})`, () => {
      const clean = stages(vignettedDies(6, pitch, []));
      let ringPixels = 0;
      let worst = 0;
      const { cx, cy, r } = region;
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          if ((x - cx) ** 2 + (y - cy) ** 2 >= r * r) continue;
          const i = y * size + x;
          if (clean.compared.edgeMask[i] !== 1) continue;
          ringPixels++;
          worst = Math.max(
            worst,
            Math.abs(clean.thresholds.score[i] as number) / clean.thresholds.highAt(i),
          );
        }
      assert.ok(ringPixels > 20_000, `${ringPixels} ring pixels`);
      assert.ok(worst < 0.9, `the clean ring's largest score is ${worst} of its seed`);
    });
});
