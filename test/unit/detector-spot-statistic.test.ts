// The spot seed (round 35, group D-spot): its threshold from the false-alarm rate over the disk's pixels, the blobs only it seeds, and a spot told from a hot pixel by its footprint.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { Lattice } from "../../endpoint/detector/lattice.ts";
import { gaussianUpperTail } from "../../endpoint/detector/line-seed.ts";
import { type Blob, hysteresisBlobs, type Thresholds } from "../../endpoint/detector/segment.ts";
import { sensorFaultJudge } from "../../endpoint/detector/sensor-faults.ts";
import { spotSeedSigmas, spotStrength } from "../../endpoint/detector/spot-statistic.ts";
import { workingMap } from "../../endpoint/detector/stages/input.ts";
import { DETECTION, SPOT_STATISTIC } from "../../endpoint/detector/thresholds.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

describe("the spot seed's threshold (derived, not fitted)", () => {
  it("reads the normal tail where false-alarm rates live (line-seed's gaussianUpperTail, shared)", () => {
    // Reference values of Q(z) = P(Z > z).
    const known: Array<[number, number]> = [
      [1, 0.158655253931457],
      [2, 0.0227501319481792],
      [3, 0.00134989803163009],
      [5, 2.86651571879194e-7],
      [6.5, 4.01600058385e-11],
    ];
    for (const [z, q] of known)
      assert.ok(Math.abs(gaussianUpperTail(z) / q - 1) < 1e-5, `Q(${z}) ${gaussianUpperTail(z)}`);
  });

  it("puts the budget of false seeds on the disk's pixels, both signs", () => {
    for (const tests of [1e4, 3e5, 7.2e5, 1.1e6]) {
      const z = spotSeedSigmas(tests);
      const expected = 2 * tests * gaussianUpperTail(z);
      assert.ok(
        Math.abs(expected / SPOT_STATISTIC.falseAlarmsPerWafer - 1) < 1e-6,
        `${tests}: ${expected}`,
      );
    }
    // More pixels, more tests: a higher threshold; on a 1024 px map it is under the fixed
    // pixel seed (which allows far fewer false seeds than the budget).
    assert.ok(spotSeedSigmas(1e6) > spotSeedSigmas(1e5));
    assert.ok(spotSeedSigmas(Math.PI * 480 * 480) < DETECTION.pixelSeedSigmas);
  });
});

describe("hysteresisBlobs with a spot seed", () => {
  const side = 40;
  const region = { cx: 20, cy: 20, r: 18 };
  // Score seed 6, grow 2.5; pixel seed 6.5; spot seed 5.5 (unit noise everywhere).
  const thresholds = (spot: boolean): Thresholds => ({
    minHigh: 6,
    minLow: 2.5,
    high: () => 6,
    low: () => 2.5,
    pixelSeed: {
      residual,
      min: 6.5,
      high: () => 6.5,
      minPixels: 2,
      ...(spot ? { spot: { min: 5.5, high: () => 5.5 } } : {}),
    },
  });
  const score = new Float32Array(side * side);
  const residual = new Float32Array(side * side);
  const at = (x: number, y: number) => y * side + x;
  // A spot: residual 6 at (10, 10) (over the spot seed, under the pixel seed), score 4 there
  // and 3 on its 4-neighbours (under the score seed, over the grow threshold).
  residual[at(10, 10)] = 6;
  score[at(10, 10)] = 4;
  for (const [dx, dy] of [
    [1, 0],
    [-1, 0],
    [0, 1],
    [0, -1],
  ] as const)
    score[at(10 + dx, 10 + dy)] = 3;
  // A stronger defect whose top flank is met first by the scan: residual 5.8 on row 24 (over
  // the spot seed), its peak on row 25 over the score seed.
  residual[at(28, 24)] = 5.8;
  score[at(28, 24)] = 3;
  score[at(28, 25)] = 7;
  score[at(29, 25)] = 3;

  it("seeds what only the spot statistic reaches, marked as such; main's seeds do not", () => {
    const without = hysteresisBlobs(score, side, side, region, thresholds(false));
    assert.equal(without.filter((b) => b.pixels.includes(at(10, 10))).length, 0);
    const blobs = hysteresisBlobs(score, side, side, region, thresholds(true));
    const spot = blobs.find((b) => b.pixels.includes(at(10, 10)));
    assert.ok(spot, "the spot is seeded");
    assert.equal(spot.spotSeeded, true);
    assert.equal(spot.pixels.length, 5);
  });

  it("a blob that grew over another seed's pixel stands on that seed", () => {
    const blobs = hysteresisBlobs(score, side, side, region, thresholds(true));
    const defect = blobs.find((b) => b.pixels.includes(at(28, 25)));
    assert.ok(defect);
    assert.ok(defect.pixels.includes(at(28, 24)), "grown from the flank");
    assert.equal(defect.spotSeeded, undefined);
  });
});

// A 1024 px 16-bit patterned wafer of square dies (pitch not a whole number), streets at
// 22000, die at 31000, Gaussian noise; a spot is a uniform disk sampled by pixel area.
const SIDE = 1024;
const PITCH = 61.37;
const NOISE = 300;

/** The pattern and its noise, kept: each test adds one spot or fault to the same wafer. */
const bases = new Map<number, Uint16Array>();

function base(seed: number): Uint16Array {
  const kept = bases.get(seed);
  if (kept) return kept;
  const random = seededRandom(seed);
  const data = new Uint16Array(SIDE * SIDE);
  const c = SIDE / 2;
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE; x++) {
      let v = 4000;
      if (Math.hypot(x + 0.5 - c, y + 0.5 - c) < 0.45 * SIDE) {
        v = 0;
        for (let j = 0; j < 4; j++)
          for (let i = 0; i < 4; i++) {
            const u = x + (i + 0.5) / 4;
            const w = y + (j + 0.5) / 4;
            const street =
              u - PITCH * Math.floor(u / PITCH) < 6 || w - PITCH * Math.floor(w / PITCH) < 6;
            v += street ? 22000 : 31000;
          }
        v /= 16;
      }
      data[y * SIDE + x] = Math.max(
        0,
        Math.min(65535, Math.round(v + NOISE * standardNormal(random))),
      );
    }
  bases.set(seed, data);
  return data;
}

function patterned(
  seed: number,
  spot: { x: number; y: number; diameter: number; contrast: number } | null,
  fault: { x: number; y: number; step: number } | null,
): GrayImage {
  const data = base(seed).slice();
  if (spot)
    for (let y = Math.floor(spot.y - spot.diameter); y <= spot.y + spot.diameter; y++)
      for (let x = Math.floor(spot.x - spot.diameter); x <= spot.x + spot.diameter; x++) {
        let inside = 0;
        for (let j = 0; j < 16; j++)
          for (let i = 0; i < 16; i++)
            if (
              Math.hypot(x + (i + 0.5) / 16 - spot.x, y + (j + 0.5) / 16 - spot.y) <
              spot.diameter / 2
            )
              inside++;
        const k = y * SIDE + x;
        data[k] = Math.min(65535, Math.round((data[k] as number) + (spot.contrast * inside) / 256));
      }
  if (fault) {
    const k = fault.y * SIDE + fault.x;
    data[k] = Math.min(65535, (data[k] as number) + fault.step);
  }
  return { width: SIDE, height: SIDE, bitDepth: 16, data };
}

/**
 * spotStrength of a 3 x 3 group around (x, y) whose residual peaks at `peak` there (in `sign`),
 * with `repairedPx` the image pixels the gate replaced.
 */
function strengthAt(
  image: GrayImage,
  x: number,
  y: number,
  peak: number,
  sign: 1 | -1 = 1,
  repairedPx: number[] = [],
): number {
  const work = workingMap(image);
  const lattice: Lattice = {
    a: { x: PITCH, y: 0 },
    b: { x: 0, y: PITCH },
    streetPhase: { a: 0, b: 0 },
    periodicity: 1,
  };
  const residual = new Float32Array(work.width * work.height);
  const pixels: number[] = [];
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) pixels.push((y + dy) * SIDE + x + dx);
  residual[y * SIDE + x] = sign * peak;
  const disk = { cx: SIDE / 2, cy: SIDE / 2, r: 0.45 * SIDE - 1.5 };
  const judge = sensorFaultJudge(
    image,
    work,
    lattice,
    residual,
    disk,
    NOISE,
    0.375 * NOISE,
    null,
    repairedPx,
  );
  const group: Blob = { pixels: Int32Array.from(pixels), sign, spotSeeded: true };
  // Spot seed at 1000 codes of residual: the peak's ratio is what is returned when it passes.
  return spotStrength(
    group,
    residual,
    { residual, min: 2000, high: () => 2000, minPixels: 2, spot: { min: 1000, high: () => 1000 } },
    judge,
  );
}

describe("spotStrength: a spot's footprint, not a hot pixel's", () => {
  // Die interior, away from streets: die (7, 8) of the lattice, 30 px into it.
  const x = Math.floor(7 * PITCH + 30);
  const y = Math.floor(8 * PITCH + 30);

  it("keeps the spec's smallest particle (3 px at 2048: 1.5 px here) at 8 noise sigmas", () => {
    for (const offset of [0, 0.25, 0.5]) {
      const image = patterned(
        5,
        { x: x + 0.5 + offset, y: y + 0.5 + offset, diameter: 1.5, contrast: (8 * NOISE) / 0.6 },
        null,
      );
      assert.ok(strengthAt(image, x, y, 1200) >= 1, `offset ${offset}`);
    }
  });

  it("drops a single hot pixel of the same peak, under the sensor-fault rule's floor", () => {
    // 10 noise sigmas: far under the gate's fault floor (12 sigmas and 10% of full scale), so
    // the sensor-fault rule leaves it; the footprint test does not.
    const image = patterned(5, null, { x, y, step: 10 * NOISE });
    assert.equal(strengthAt(image, x, y, 1200), 0);
  });

  it("drops a level along one die axis, which the pair along it shares (a street's row)", () => {
    // A 2 px row across the whole wafer, 8 noise sigmas over the spot's contrast share: every
    // die of this die row carries it at the same place (as a street's sampling phase, or a
    // reticle field's boundary street, along a), so the pair along a cancels it and the pairs
    // across read it. Its footprint is spread (left and right carry it), so only the direction test
    // tells it from a spot. Round 38: SYN-7065-3/wafer-001 (1622, 440).
    const image = patterned(5, null, null);
    const data = image.data as Uint16Array;
    for (const row of [y, y + 1])
      for (let k = 0; k < SIDE; k++)
        data[row * SIDE + k] = Math.min(65535, (data[row * SIDE + k] as number) + 8 * NOISE);
    assert.equal(strengthAt(image, x, y, 1200), 0);
    // The same contrast as a spot at the same place is kept: the test is the direction's.
    const spot = patterned(
      5,
      { x: x + 0.5, y: y + 0.5, diameter: 1.5, contrast: (8 * NOISE) / 0.6 },
      null,
    );
    assert.ok(strengthAt(spot, x, y, 1200) >= 1);
  });

  it("returns 0 under the spot seed", () => {
    const image = patterned(5, { x: x + 0.5, y: y + 0.5, diameter: 1.5, contrast: 4000 }, null);
    assert.equal(strengthAt(image, x, y, 900), 0);
  });

  it("drops a spike on a pixel the gate repaired (the motif's detail taken for a hot pixel)", () => {
    // A bright motif dot in every die, 1.5 px across, at sub-pixel phases that differ die to die
    // (the pitch is not whole); in the die under test it sits centred on (x, y), and the gate
    // replaced that pixel by its neighbours' level (its hot-pixel repair: 0.5 (left + right)).
    // The references still carry the dot spread over their pixels, so the die under test reads
    // as a dark spot with a spot's footprint (round 39: SYN-20261520-1/wafer-017 (1022, 333)).
    const image = patterned(5, null, null);
    const data = image.data as Uint16Array;
    const offX = x + 0.5 - 7 * PITCH;
    const offY = y + 0.5 - 8 * PITCH;
    const dot = 20 * NOISE;
    for (let j = 0; j < SIDE / PITCH; j++)
      for (let i = 0; i < SIDE / PITCH; i++) {
        const cx = i * PITCH + offX;
        const cy = j * PITCH + offY;
        for (let py = Math.floor(cy) - 2; py <= cy + 2; py++)
          for (let px = Math.floor(cx) - 2; px <= cx + 2; px++) {
            if (px < 0 || py < 0 || px >= SIDE || py >= SIDE) continue;
            let inside = 0;
            for (let v = 0; v < 16; v++)
              for (let u = 0; u < 16; u++)
                if (Math.hypot(px + (u + 0.5) / 16 - cx, py + (v + 0.5) / 16 - cy) < 0.75) inside++;
            const k = py * SIDE + px;
            data[k] = Math.min(65535, Math.round((data[k] as number) + (dot * inside) / 256));
          }
      }
    const at = y * SIDE + x;
    data[at] = Math.round(0.5 * ((data[at - 1] as number) + (data[at + 1] as number)));
    // Without the gate's word the spot rule takes the hole for a dark spot (main's behaviour)...
    assert.ok(strengthAt(image, x, y, 1200, -1) >= 1);
    // ...with it, the spike's pixel is the gate's estimate, not an observation: no spot.
    assert.equal(strengthAt(image, x, y, 1200, -1, [at]), 0);
    // A repair elsewhere on the wafer changes nothing.
    assert.ok(strengthAt(image, x, y, 1200, -1, [at + 5 * SIDE]) >= 1);
  });
});
