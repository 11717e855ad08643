// Unit tests of the detector's false-alarm defences on small rasters built here: the rim ring's noise gain.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  dieToDieResidual,
  EDGE_GAIN_UNIT,
  referenceNoiseGain,
} from "../../endpoint/detector/die-to-die.ts";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import type { FloatMap } from "../../endpoint/detector/raster.ts";
import { seededRandom } from "../../lib/random.ts";

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] ?? 0;
}

describe("rim ring: the noise gain of extrapolated references", () => {
  // Flat dies of pitch 8, each at its own level (die-specific detail, sigma 5, which the
  // misregistration allowance does not forgive: it is flat inside a die), no sensor noise.
  const size = 600;
  const pitch = 12;
  const region: DiskRegion = { cx: 300, cy: 300, r: 290 };
  const random = seededRandom(11);
  const dies = Math.ceil(size / pitch) + 1;
  const levels = Float64Array.from({ length: dies * dies }, () => 5 * gaussian(random));
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      data[y * size + x] =
        1000 + (levels[Math.floor(y / pitch) * dies + Math.floor(x / pitch)] as number);
  const map: FloatMap = { width: size, height: size, scale: 1, data };
  const out = new Float32Array(size * size);
  const edgeMask = new Uint8Array(size * size);
  const edgeGain = new Uint8Array(size * size);
  dieToDieResidual(
    map,
    { x: pitch, y: 0 },
    { x: 0, y: pitch },
    region,
    295,
    0.01,
    out,
    edgeMask,
    edgeGain,
  );
  const interior: number[] = [];
  const ring: number[] = [];
  const ringScaled: number[] = [];
  const gains = new Set<number>();
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (Math.hypot(x - region.cx, y - region.cy) >= region.r) continue;
      // Die centres only: a reference cell across a die edge has the level step as its
      // range, which the misregistration allowance forgives.
      if (x % pitch < 2 || x % pitch > pitch - 3 || y % pitch < 2 || y % pitch > pitch - 3)
        continue;
      const i = y * size + x;
      const v = Math.abs(out[i] as number);
      const gain = (edgeGain[i] as number) / EDGE_GAIN_UNIT;
      gains.add(edgeGain[i] as number);
      if (edgeMask[i] === 0) {
        assert.equal(gain, 1, "an interior pixel compares with pair averages only");
        interior.push(v);
      } else if (gain >= 1.5) {
        ring.push(v);
        ringScaled.push(v / gain);
      }
    }
  }

  it("marks interior pixels 1 and the rim ring by its configuration (pair, extrapolated, single)", () => {
    assert.ok(gains.has(EDGE_GAIN_UNIT));
    // Four compared, one to four of them extrapolated (the rest pair averages): the dominant
    // set is the three least precise references.
    const pair = 2;
    const extrapolated = 1 / 5;
    for (const precision of [2 * pair + extrapolated, pair + 2 * extrapolated, 3 * extrapolated])
      assert.ok(
        gains.has(Math.round(EDGE_GAIN_UNIT * referenceNoiseGain(precision))),
        `gain ${referenceNoiseGain(precision)} present`,
      );
    assert.equal(referenceNoiseGain(3 * pair), 1);
    assert.ok(Math.abs(referenceNoiseGain(3 * extrapolated) - 1.512) < 0.001);
    assert.ok(ring.length > 2000, `${ring.length} ring pixels of gain >= 1.5`);
  });

  it("the outer ring's residual tail lies further out than the interior's; divided by the derived gain it matches", () => {
    // Each die is one value, so the ring holds a few hundred: its 99th percentile is the tail it can give.
    for (const q of [0.98, 0.99]) {
      const inner = quantile(interior, q);
      const outer = quantile(ring, q);
      const scaled = quantile(ringScaled, q);
      assert.ok(outer > 1.3 * inner, `ring q${q} ${outer} vs interior ${inner}`);
      assert.ok(
        scaled > 0.85 * inner && scaled < 1.15 * inner,
        `ring q${q} / gain ${scaled} vs interior ${inner}`,
      );
    }
  });
});
