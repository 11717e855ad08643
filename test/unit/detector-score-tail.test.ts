// The score-tail factor is read on noise: grown defects and pattern lines are left out, wafer-wide heavy tails still count.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { DiskRegion } from "../../endpoint/detector/noise.ts";
import { notNoiseBlobs, scoreTailFactor } from "../../endpoint/detector/score-tail.ts";
import { hysteresisBlobs } from "../../endpoint/detector/segment.ts";
import { DETECTION } from "../../endpoint/detector/thresholds.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

// A working map of 1000 px at map scale 1 (a 1000 px frame): each of the 16 sectors holds
// about 2,900 samples, as on a real 1024 px map. Unit noise sigma everywhere.
const size = 1000;
const region: DiskRegion = { cx: 500, cy: 500, r: 490 };
const sizeScale = size / 2048;
const unitSigma = () => 1;
/** detect()'s seed and grow rules on a unit-sigma score: seed at 6 sigma, grow to 2.5. */
const seeds = {
  minHigh: DETECTION.seedSigmas,
  minLow: DETECTION.growSigmas,
  high: () => DETECTION.seedSigmas,
  low: () => DETECTION.growSigmas,
};

/** The factor as detect() measures it: after segmentation, blobs larger than noise left out. */
function measuredTail(score: Float32Array): number {
  const blobs = hysteresisBlobs(score, size, size, region, seeds);
  return scoreTailFactor(score, size, region, unitSigma, notNoiseBlobs(blobs, size, 1, sizeScale));
}

function gaussianScore(seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: size * size }, () => standardNormal(random));
}

/** Laplacian scores with a Gaussian's 95th percentile (|x| at 1e-3: 2.3 times it, not 1.68). */
function laplacianScore(seed: number): Float32Array {
  const random = seededRandom(seed);
  const b = 1.96 / 3;
  return Float32Array.from(
    { length: size * size },
    () => -b * Math.log(1 - random()) * (random() < 0.5 ? -1 : 1),
  );
}

/**
 * Twelve stains of radius 30 px at 30 sigmas, one in each of the inner three rings of every
 * quadrant (on its diagonal): 12 of the 16 sectors hold a defect, as on round 26's 1/029.
 */
function addStains(score: Float32Array): void {
  for (const quadrant of [0, 1, 2, 3])
    for (const radius of [120, 295, 385]) {
      const angle = -Math.PI + (quadrant + 0.5) * (Math.PI / 2);
      const sx = region.cx + radius * Math.cos(angle);
      const sy = region.cy + radius * Math.sin(angle);
      for (let y = Math.floor(sy - 30); y <= sy + 30; y++)
        for (let x = Math.floor(sx - 30); x <= sx + 30; x++)
          if ((x - sx) ** 2 + (y - sy) ** 2 <= 900) score[y * size + x] = 30;
    }
}

/**
 * Two street rows and two street columns, 4 px wide, 8 sigmas along the whole chord, as the
 * die-to-die leftover of round 26's 2/022: together they cross all 16 sectors.
 */
function addStreetLines(score: Float32Array): void {
  for (const at of [298, 698])
    for (let k = at; k < at + 4; k++)
      for (let t = 0; t < size; t++) {
        score[k * size + t] = 8;
        score[t * size + k] = 8;
      }
}

describe("score tail (score-tail.ts): read on what the seeds leave as noise", () => {
  it("stays 1 when stains lie in 12 of the 16 sectors (the median sector read a stain)", () => {
    const score = gaussianScore(3);
    addStains(score);
    const unmasked = scoreTailFactor(score, size, region, unitSigma);
    const factor = measuredTail(score);
    assert.ok(unmasked > 5, `without leaving them out the stains set it: ${unmasked}`);
    assert.ok(factor < 1.05, `factor ${factor}`);
  });

  it("stays 1 when street rows and columns cross every sector", () => {
    const score = gaussianScore(4);
    addStreetLines(score);
    const unmasked = scoreTailFactor(score, size, region, unitSigma);
    const factor = measuredTail(score);
    assert.ok(unmasked > 2, `without leaving them out the lines set it: ${unmasked}`);
    assert.ok(factor < 1.05, `factor ${factor}`);
  });

  it("still rises on a wafer-wide heavy tail, with or without the stains", () => {
    const plain = measuredTail(laplacianScore(5));
    const score = laplacianScore(5);
    addStains(score);
    const stained = measuredTail(score);
    assert.ok(plain > 1.25 && plain < 1.55, `factor ${plain}`);
    assert.ok(stained > 1.25 && stained < 1.55, `factor with stains ${stained}`);
  });
});

describe("notNoiseBlobs: which grown blobs are not one excursion of noise", () => {
  // At map scale 1 on a 1000 px frame the spec's largest particle is 16 x 1000 / 2048 = 7.8 px,
  // so a blob longer than 15.6 px is left out of the tail.
  const square = (x0: number, y0: number, w: number, h: number) => {
    const pixels: number[] = [];
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) pixels.push(y * size + x);
    return { pixels: Int32Array.from(pixels) };
  };

  it("keeps particle-sized blobs (a noise excursion is one) in the measurement", () => {
    assert.equal(notNoiseBlobs([square(100, 100, 15, 15)], size, 1, sizeScale).length, 0);
  });

  it("leaves out a blob longer than twice the largest particle, however thin", () => {
    const line = square(100, 100, 17, 1);
    const stain = square(300, 300, 40, 40);
    const out = notNoiseBlobs([line, square(200, 200, 3, 3), stain], size, 1, sizeScale);
    assert.deepEqual(out, [line.pixels, stain.pixels]);
  });

  it("scales with the frame and the map: the limit is the spec's size in map px", () => {
    const line = square(100, 100, 17, 1);
    // A 2000 px frame at map scale 1: its largest particle is 15.6 map px, the line is shorter.
    assert.equal(notNoiseBlobs([line], size, 1, 2 * sizeScale).length, 0);
    // The 1000 px frame binned 2 x 2: 3.9 map px, the line is longer than twice that.
    assert.equal(notNoiseBlobs([line], size, 2, sizeScale).length, 1);
  });
});
