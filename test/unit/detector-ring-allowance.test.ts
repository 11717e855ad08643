// Unit test of the rim ring's allowances: a two-die extrapolation forgives what its samples' sub-pixel blur can do (not 0.75 of three cells' ranges), so a ring particle beside a street edge keeps its contrast; the two-pair veto abstains when its one-sided comparison allows both 0 and the pairs' reading.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  extrapolationMisregistrationShare,
  MISREGISTRATION_SHARE,
} from "../../endpoint/detector/die-to-die-allowance.ts";
import {
  edgePixel,
  rimRingDirections,
  vetoAbstains,
} from "../../endpoint/detector/die-to-die-rim-ring.ts";
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

/**
 * One rim-ring pixel of a flat 64 x 64 map (level 100, the pixel at (30, 30) raised by
 * `contrast`), dies 10 px apart along x and y (whole pixels: every sample on a pixel), and the
 * given kind of reference per direction (a, b, a + b, a - b): "pair", "extrapolated" (from the
 * + side) or "none". Each reference cell's 2x2 range is `ranges` of its kind; pair members can
 * be set to another level (`pairLevel`, an edge chip's chuck). edgePixel is the JavaScript
 * definition the kernel matches bit for bit (detector-speed-exact).
 */
function ringPixel(options: {
  kinds: Array<"pair" | "extrapolated" | "none">;
  contrast: number;
  ranges: { pair: number; near: number; far: number };
  pairLevel?: number;
}): number {
  const width = 64;
  const data = new Float32Array(width * width).fill(100);
  const range = new Float32Array(width * width);
  const base = 30 * width + 30;
  data[base] = 100 + options.contrast;
  const dirs = [
    { x: 10, y: 0 },
    { x: 0, y: 10 },
    { x: 10, y: 10 },
    { x: 10, y: -10 },
  ];
  const offsets = new Int32Array(8);
  const offsets2 = new Int32Array(8);
  const lower = new Int32Array(8).fill(1);
  const upper = new Int32Array(8);
  const lower2 = new Int32Array(8).fill(1);
  const upper2 = new Int32Array(8);
  dirs.forEach((d, k) => {
    for (const [slot, sign] of [
      [2 * k, 1],
      [2 * k + 1, -1],
    ] as const) {
      offsets[slot] = sign * (d.y * width + d.x);
      offsets2[slot] = 2 * sign * (d.y * width + d.x);
    }
    const kind = options.kinds[k];
    const on = (lo: Int32Array, up: Int32Array, slot: number) => {
      lo[slot] = 0;
      up[slot] = width - 2;
    };
    if (kind === "pair") {
      on(lower, upper, 2 * k);
      on(lower, upper, 2 * k + 1);
      for (const slot of [2 * k, 2 * k + 1]) {
        range[base + (offsets[slot] as number)] = options.ranges.pair;
        if (options.pairLevel !== undefined)
          data[base + (offsets[slot] as number)] = options.pairLevel;
      }
    } else if (kind === "extrapolated") {
      on(lower, upper, 2 * k);
      on(lower2, upper2, 2 * k);
      range[base + (offsets[2 * k] as number)] = options.ranges.near;
      range[base + (offsets2[2 * k] as number)] = options.ranges.far;
    }
  });
  const zeros = new Float64Array(8);
  const out = new Float32Array(width * width);
  edgePixel(
    data,
    width,
    out,
    base,
    30,
    lower,
    upper,
    lower2,
    upper2,
    offsets,
    zeros,
    zeros,
    offsets2,
    zeros,
    zeros,
    1,
    range,
    offsets,
    offsets2,
    undefined,
    rimRingDirections(30, lower, upper, lower2, upper2),
    Float64Array.from(dirs, () => DETECTION.samplingPhaseShare),
    Float64Array.from(dirs, extrapolationMisregistrationShare),
  );
  return out[base] as number;
}

describe("rim ring: one ring pixel (edgePixel)", () => {
  // Pairs forgive 0.25 x 40 - 1 = 9 of a +30 particle (21 left). The inward extrapolation's
  // cells range 40 each: the fixed share forgave 0.75 x 120 - 1 = 89 (its 0 vetoed both pairs),
  // its own share (whole pixels: 0.125) forgives 14.
  const ranges = { pair: 40, near: 40, far: 40 };
  it("two pairs and an extrapolation: the extrapolation forgives its own share, so the veto no longer casts 0", () => {
    const value = ringPixel({
      kinds: ["pair", "pair", "extrapolated", "none"],
      contrast: 30,
      ranges,
    });
    assert.ok(Math.abs(value - 16) < 1e-4, `value ${value}`);
  });

  it("the veto abstains where the extrapolation's allowance holds both 0 and the pairs' reading (a street edge in its cells)", () => {
    // Its cells range 200 (a street edge): 0.125 x 600 - 1 = 74 > 30, and 30 - 21 < 74.
    const value = ringPixel({
      kinds: ["pair", "pair", "extrapolated", "none"],
      contrast: 30,
      ranges: { pair: 40, near: 200, far: 200 },
    });
    assert.ok(Math.abs(value - 21) < 1e-4, `value ${value}`);
  });

  it("the veto still holds where both pairs' members read an edge chip and the inward die reads the pixel", () => {
    // Pair members at 40 (the chuck), the pixel and the inward dies at 100: the pairs read
    // +60 - 9 = 51, the extrapolation 0 under 14.
    const value = ringPixel({
      kinds: ["pair", "pair", "extrapolated", "none"],
      contrast: 0,
      ranges,
      pairLevel: 40,
    });
    assert.equal(value, 0);
  });

  it("one pair and extrapolations keep the fixed share (a reticle field's level enters 2 near - far twice)", () => {
    // Three extrapolations forgive 89 each: the 2nd smallest of four is 0.
    const value = ringPixel({
      kinds: ["pair", "extrapolated", "extrapolated", "extrapolated"],
      contrast: 30,
      ranges,
    });
    assert.equal(value, 0);
  });
});
