// Unit test of the rim ring's allowances: a two-die extrapolation forgives what its samples' sub-pixel blur can do (not 0.75 of three cells' ranges), so a ring particle beside a street edge keeps its contrast; the two-pair veto abstains when its one-sided comparison allows both 0 and the pairs' reading.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  extrapolationMisregistrationShare,
  MISREGISTRATION_SHARE,
} from "../../endpoint/detector/die-to-die-allowance.ts";
import { EDGE_GAIN_UNIT, vetoAbstains } from "../../endpoint/detector/die-to-die-rim-ring.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";
import { comparisonStages } from "../helpers/comparison-stages.ts";

const size = 400;
const region: DiskRegion = { cx: 200, cy: 200, r: 185 };
const level = 1000;
const sigma = 4;
/** A pitch 0.4 px off whole on both axes: every reference is a bilinear sample between pixels. */
const pitch = 36.4;
const street = 4;

interface Particle {
  cx: number;
  cy: number;
  contrast: number;
}

/**
 * Dies of `pitch` px, streets of 4 px at 60% of the level, a bright motif bar (125%), drawn by
 * area coverage (4 x 4 subsamples per pixel, so edges fall between pixels as a camera's do);
 * white noise of `sigma`; 3 x 3 px particles where given.
 */
function dies(seed: number, particles: Particle[]): FloatMap {
  const random = seededRandom(seed);
  const value = (x: number, y: number): number => {
    const u = (((x + 7) % pitch) + pitch) % pitch;
    const v = (((y + 3) % pitch) + pitch) % pitch;
    if (u < street || v < street) return 0.6 * level;
    if (u >= 0.3 * pitch && u < 0.7 * pitch && v >= 0.35 * pitch && v < 0.55 * pitch)
      return 1.25 * level;
    return level;
  };
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let sum = 0;
      for (let j = 0; j < 4; j++)
        for (let i = 0; i < 4; i++) sum += value(x + (i - 1.5) / 4, y + (j - 1.5) / 4);
      let pixel = sum / 16;
      for (const p of particles)
        if (Math.abs(x - p.cx) <= 1 && Math.abs(y - p.cy) <= 1) pixel += p.contrast;
      data[y * size + x] = pixel + sigma * standardNormal(random);
    }
  return { width: size, height: size, scale: 1, data };
}

describe("rim ring: the extrapolation's allowance", () => {
  it("is the larger sub-pixel blur share of its two samples plus half the sampling phase's, never over the fixed share", () => {
    // On whole pixels the samples carry no blur: only the die under test's own phase is left.
    const whole = extrapolationMisregistrationShare({ x: 36, y: 0 });
    assert.equal(whole, DETECTION.samplingPhaseShare / 2);
    // Half a pixel along x: the near sample blurs 0.25 of its range, the far one (a whole
    // pixel off) none.
    const half = extrapolationMisregistrationShare({ x: 36.5, y: 0 });
    assert.equal(half, 0.25 + DETECTION.samplingPhaseShare / 2);
    // A quarter: the far sample (half a pixel off) blurs more than the near one.
    const quarter = extrapolationMisregistrationShare({ x: 36.25, y: 0 });
    assert.equal(quarter, 0.25 + DETECTION.samplingPhaseShare / 2);
    for (let k = 0; k < 50; k++) {
      const share = extrapolationMisregistrationShare({ x: 30 + 0.137 * k, y: 20 + 0.291 * k });
      assert.ok(share <= MISREGISTRATION_SHARE && share > 0, `share ${share}`);
    }
  });

  it("leaves a ring particle beside a street edge its contrast where extrapolations decide", () => {
    // Ring sites 1.5 px inside a die from its vertical street edge (the reference cells there
    // span the 400-code step), in flat die area vertically; one per die.
    const clean = comparisonStages(dies(6, []), region);
    const sites: Particle[] = [];
    for (let y = 10; y < size - 10; y++)
      for (let x = 10; x < size - 10; x++) {
        const u = (((x + 7) % pitch) + pitch) % pitch;
        const v = (((y + 3) % pitch) + pitch) % pitch;
        if (Math.abs(u - (street + 1.5)) > 0.5 || Math.abs(v - 0.2 * pitch) > 0.5) continue;
        if (clean.compared.edgeMask[y * size + x] !== 1) continue;
        // Where one pair or none is left: all four comparisons decide, three of them one-sided
        // (gain 1.5 and more). Where two pairs are left, the pairs' own share decides (the
        // interior's rule), which this round leaves as it is.
        if ((clean.compared.edgeGain[y * size + x] as number) < 1.4 * EDGE_GAIN_UNIT) continue;
        if (sites.some((s) => Math.hypot(s.cx - x, s.cy - y) < pitch)) continue;
        sites.push({ cx: x, cy: y, contrast: -40 });
      }
    assert.ok(sites.length >= 12, `${sites.length} ring sites`);
    const run = comparisonStages(dies(6, sites), region);
    // The particle's peak residual over its contrast (10 noise sigmas; the comparison's 3x3
    // binomial smoothing leaves about 0.56 of a 3 x 3 square at its centre). Main's fixed
    // share (0.75 of 2 near + far ranges: about 500 codes here) read (362, 113) as 0.
    let weakest = Number.POSITIVE_INFINITY;
    let where = "";
    for (const s of sites) {
      let peak = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++)
          peak = Math.max(
            peak,
            Math.abs(run.compared.residual[(s.cy + dy) * size + s.cx + dx] as number),
          );
      if (peak / -s.contrast < weakest) {
        weakest = peak / -s.contrast;
        where = `(${s.cx}, ${s.cy})`;
      }
    }
    assert.ok(weakest > 0.4, `the weakest ring particle ${where} reads ${weakest} of its contrast`);
  });

  it("keeps a clean ring on a fractional pitch under its seed", () => {
    const clean = comparisonStages(dies(6, []), region);
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

describe("rim ring: the two-pair veto abstains only without evidence", () => {
  it("abstains where the one-sided comparison allows both 0 and the pairs' reading", () => {
    // Round 32's SYN-20261517-9/wafer-029: the inward extrapolation read +6.85 under an
    // allowance of 31.5 (a street edge); the pairs read 1.5-1.7 past their own allowances.
    assert.equal(vetoAbstains(6.85, 31.5, 1.53), true);
  });

  it("vetoes pairs whose outer members read the chuck: the real die reads about 0 under a small allowance", () => {
    // An edge chip one die away: the pairs read tens of percent of the level (here 50 codes past
    // their allowance), the inward reference about 0 under 2.
    assert.equal(vetoAbstains(0.4, 2, 50), false);
    // The same under a larger allowance that still cannot reach the pairs' reading.
    assert.equal(vetoAbstains(-3, 30, 40), false);
  });

  it("does not abstain where the one-sided comparison itself exceeds: it then counts as a comparison", () => {
    assert.equal(vetoAbstains(12, 5, 8), false);
    assert.equal(vetoAbstains(-12, 5, -8), false);
  });
});
