// Unit tests of single-pixel sensor faults judged after the die-to-die comparison, on patterned wafers built here: faults beside pattern detail dropped and counted, real 3 px particles kept.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { detect } from "../../endpoint/detector/index.ts";
import type { Lattice } from "../../endpoint/detector/lattice.ts";
import {
  isSensorFault,
  opticalBlurPx,
  sensorFaultJudge,
  smallestSpotSpread,
} from "../../endpoint/detector/sensor-faults.ts";
import { workingMap } from "../../endpoint/detector/stages/input.ts";
import { SENSOR_FAULT } from "../../endpoint/detector/thresholds.ts";
import { assessQuality, gatedDetect } from "../../endpoint/quality/index.ts";
import type { GrayImage } from "../../lib/gray-image.ts";
import { seededRandom, standardNormal } from "../../lib/random.ts";

// A 16-bit patterned wafer: dies of 64 px (at 1024 px; scaled with the frame) with streets 6 px
// wide at 71% of the die level, and inside each die a motif: the upper part at 31000, the lower
// at 25400, split by a dark line 1 px wide at 22400 (the detail a fault beside it confuses the
// gate's raw-neighbour test with). Sensor noise sigma 260 codes (0.4% of full scale).
const NOISE = 260;
const LINE_ROW = 30;

interface Spot {
  /** Centre, image px (pixel centres at +0.5). */
  x: number;
  y: number;
  /** Uniform disk across, image px. */
  diameter: number;
  /** Added to the pattern, codes. */
  contrast: number;
}

function patternLevel(x: number, y: number, pitch: number, street: number, line: number): number {
  const u = x % pitch;
  const w = y % pitch;
  if (u < street || w < street) return 22000;
  if (w === line) return 22400;
  return w < line ? 31000 : 25400;
}

/** The pattern and its noise, without faults or spots (kept per side: most tests add one thing to it). */
const bases = new Map<string, Uint16Array>();

function baseWafer(side: number, seed: number): Uint16Array {
  const key = `${side} ${seed}`;
  const kept = bases.get(key);
  if (kept) return kept;
  const s = side / 1024;
  const pitch = 64 * s;
  const street = 6 * s;
  const line = LINE_ROW * s;
  const random = seededRandom(seed);
  const data = new Uint16Array(side * side);
  const c = side / 2;
  const r = 0.45 * side;
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const onWafer = Math.hypot(x + 0.5 - c, y + 0.5 - c) < r;
      const v = onWafer ? patternLevel(x, y, pitch, street, line) : 4000;
      data[y * side + x] = Math.max(
        0,
        Math.min(65535, Math.round(v + NOISE * standardNormal(random))),
      );
    }
  bases.set(key, data);
  return data;
}

/** One buffer per side for the loops' images, each used and dropped before the next is built. */
const scratches = new Map<number, Uint16Array>();

function patternedWafer(
  side: number,
  opts: {
    seed: number;
    fault?: { x: number; y: number; value: number };
    spot?: Spot;
    /** Build into the side's scratch buffer (the previous scratch image is overwritten). */
    scratch?: boolean;
  },
): GrayImage {
  const base = baseWafer(side, opts.seed);
  let data: Uint16Array;
  if (opts.scratch) {
    data = scratches.get(side) ?? new Uint16Array(base.length);
    scratches.set(side, data);
    data.set(base);
  } else data = base.slice();
  const spot = opts.spot;
  if (spot) {
    // Area coverage of the disk, 16 x 16 sub-samples per pixel of its box.
    const n = 16;
    for (let y = Math.floor(spot.y - spot.diameter); y <= spot.y + spot.diameter; y++)
      for (let x = Math.floor(spot.x - spot.diameter); x <= spot.x + spot.diameter; x++) {
        let inside = 0;
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++)
            if (
              Math.hypot(x + (i + 0.5) / n - spot.x, y + (j + 0.5) / n - spot.y) <
              spot.diameter / 2
            )
              inside++;
        const k = y * side + x;
        data[k] = Math.max(
          0,
          Math.min(65535, Math.round((data[k] as number) + (spot.contrast * inside) / (n * n))),
        );
      }
  }
  if (opts.fault) data[opts.fault.y * side + opts.fault.x] = opts.fault.value;
  return { width: side, height: side, bitDepth: 16, data };
}

describe("the least spread of a real spot (the spec's smallest particle through the optics)", () => {
  it("a 1.5 px disk centred on a pixel (3 px at 2048, seen at 1024 px) lends its 8 neighbours about 0.77 of its peak", () => {
    // The disk's area is 1.77 px^2; the centre pixel lies wholly inside it (corners at 0.71 px).
    const spread = smallestSpotSpread(1.5, 0, 1);
    assert.ok(spread > 0.72 && spread < 0.78, `spread ${spread}`);
  });

  it("after 2x2 binning at 2048 px and 8x8 at 8192 px the map sees the same 1.5 map px disk", () => {
    assert.ok(Math.abs(smallestSpotSpread(3, 0, 2) - smallestSpotSpread(1.5, 0, 1)) < 1e-6);
    assert.ok(Math.abs(smallestSpotSpread(12, 0, 8) - smallestSpotSpread(1.5, 0, 1)) < 1e-6);
  });

  it("at 1536 px (binned 2x2, the particle 1.1 map px) it is small; optical blur spreads it", () => {
    const sharp = smallestSpotSpread(2.25, 0, 2);
    assert.ok(sharp > 0.05 && sharp < 0.15, `sharp ${sharp}`);
    assert.ok(smallestSpotSpread(2.25, 0.75, 2) > 5 * sharp);
    assert.ok(smallestSpotSpread(1.5, 0.5, 1) > smallestSpotSpread(1.5, 0, 1));
  });

  it("the optics' blur is the rim reading less the measure's own spread, never below 0", () => {
    assert.equal(opticalBlurPx(null), 0);
    assert.equal(opticalBlurPx(SENSOR_FAULT.rimBlurSelfPx * 0.9), 0);
    assert.ok(
      Math.abs(opticalBlurPx(1.2) - Math.sqrt(1.44 - SENSOR_FAULT.rimBlurSelfPx ** 2)) < 1e-12,
    );
  });
});

/** A bright disk on a dark chuck, edges by exact pixel area, blurred by a Gaussian of `blurPx`. */
function diskImage(side: number, blurPx: number): GrayImage {
  const data = new Uint16Array(side * side);
  const cx = side / 2 + 0.3;
  const cy = side / 2 - 0.2;
  const r = 0.45 * side;
  const n = 4;
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const d0 = Math.hypot(x + 0.5 - cx, y + 0.5 - cy) - r;
      let v = d0 < 0 ? 1 : 0;
      if (Math.abs(d0) < 2 + 5 * blurPx) {
        let sum = 0;
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            const d = Math.hypot(x + (i + 0.5) / n - cx, y + (j + 0.5) / n - cy) - r;
            sum += blurPx > 0 ? 1 - normalCdf(d / blurPx) : d < 0 ? 1 : 0;
          }
        v = sum / (n * n);
      }
      data[y * side + x] = Math.round(6000 + 40000 * v);
    }
  return { width: side, height: side, bitDepth: 16, data };
}

function normalCdf(z: number): number {
  // Abramowitz-Stegun 7.1.26.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

describe("the gate's rim blur, read back as the optics' blur", () => {
  const rimBlurPx = (image: GrayImage) => {
    const read = assessQuality(image).quality.blurSigmaPx2048;
    assert.ok(read !== null);
    return (read * image.width) / 2048;
  };

  it("a rim with no optical blur reads at most rimBlurSelfPx (the measure's own spread), so no optical blur is left", () => {
    const read = rimBlurPx(diskImage(1024, 0));
    assert.ok(read > 0.5 && read <= SENSOR_FAULT.rimBlurSelfPx, `read ${read}`);
    assert.equal(opticalBlurPx(read), 0);
  });

  it("a known Gaussian blur is recovered, never overstated (an overstated blur would expect spread a real spot lacks)", () => {
    for (const blur of [0.5, 1]) {
      const optics = opticalBlurPx(rimBlurPx(diskImage(1024, blur)));
      assert.ok(optics <= blur && optics >= 0.7 * blur, `blur ${blur}: optics ${optics}`);
    }
  });
});

/**
 * The judge of a wafer built here, with its known lattice (no optical blur: the least spread).
 * Given a point, the residual is filled only on the group groupAt makes there: the judge reads
 * the residual at the group's pixels alone (to find its peak), so the verdict is the same.
 */
function judgeOf(image: GrayImage, only?: { x: number; y: number }) {
  const work = workingMap(image);
  const pitch = (64 * (image.width / 1024)) / work.scale;
  const lattice: Lattice = {
    a: { x: pitch, y: 0 },
    b: { x: 0, y: pitch },
    streetPhase: { a: 0, b: 0 },
    periodicity: 1,
  };
  // The residual only points the judge at the group's peak: pixel minus its pair references.
  const residual = new Float32Array(work.width * work.height);
  const at = (x: number, y: number) => work.data[y * work.width + x] as number;
  let [x0, x1, y0, y1] = [pitch + 1, work.width - pitch - 1, pitch + 1, work.height - pitch - 1];
  if (only) {
    const mx = Math.floor(only.x / work.scale);
    const my = Math.floor(only.y / work.scale);
    [x0, x1] = [Math.max(x0, mx - 2), Math.min(x1, mx + 3)];
    [y0, y1] = [Math.max(y0, my - 2), Math.min(y1, my + 3)];
  }
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++)
      residual[y * work.width + x] =
        at(x, y) -
        0.25 * (at(x - pitch, y) + at(x + pitch, y) + at(x, y - pitch) + at(x, y + pitch));
  const sigmaMap = NOISE / work.scale;
  return {
    work,
    judge: sensorFaultJudge(image, work, lattice, residual, null, sigmaMap, 0.375 * sigmaMap, null),
  };
}

/** The 5 x 5 map pixels around image point (x, y): the group a candidate there grows to. */
function groupAt(work: { width: number; scale: number }, x: number, y: number, sign: 1 | -1) {
  const mx = Math.floor(x / work.scale);
  const my = Math.floor(y / work.scale);
  const pixels: number[] = [];
  for (let dy = -2; dy <= 2; dy++)
    for (let dx = -2; dx <= 2; dx++) pixels.push((my + dy) * work.width + mx + dx);
  return { pixels: Int32Array.from(pixels), sign };
}

// Die-local places (px at 1024) beside the detail: on the 1 px line, just above and below it,
// beside a street's edge, and on flat die.
const PLACES: Array<[number, number]> = [
  [20, LINE_ROW],
  [33, LINE_ROW - 1],
  [41, LINE_ROW + 1],
  [6, 44],
  [50, 12],
];

describe("a lone spike where the die pattern has cancelled is a sensor fault; a real spot never is", () => {
  for (const side of [1024, 2048]) {
    const s = side / 1024;
    const dieX = 7 * 64 * s;
    const dieY = 8 * 64 * s;

    it(`${side} px: hot and dead pixels on and beside the motif line and a street edge are faults`, () => {
      for (const [u, w] of PLACES)
        for (const value of [65535, 0]) {
          const x = dieX + u * s;
          const y = dieY + w * s;
          const image = patternedWafer(side, { seed: 10, fault: { x, y, value }, scratch: true });
          const { work, judge } = judgeOf(image, { x, y });
          const sign = value > 0 ? 1 : -1;
          assert.equal(
            isSensorFault(groupAt(work, x, y, sign), judge),
            true,
            `${value} at ${u}, ${w}`,
          );
        }
    });

    it(`${side} px: the smallest particle (3 px at 2048) at any sub-pixel position, from the must-find floor to 50% of full scale, is never a fault`, () => {
      // Must-find floor: 5 noise sigmas (1300 codes) and 4% of the level (1240 at the brightest).
      for (const contrast of [1300, 15000, -15000, 32000])
        for (const [u, w] of PLACES)
          for (const offset of [0, 0.5]) {
            // Centred on a map pixel's centre (the least spread) and off it.
            const x = dieX + u * s + s / 2 + offset;
            const y = dieY + w * s + s / 2 + offset;
            const image = patternedWafer(side, {
              seed: 10,
              spot: { x, y, diameter: 1.5 * s, contrast },
              scratch: true,
            });
            const { work, judge } = judgeOf(image, { x, y });
            const sign = contrast > 0 ? 1 : -1;
            assert.equal(
              isSensorFault(groupAt(work, x, y, sign), judge),
              false,
              `contrast ${contrast} at ${u}, ${w} + ${offset}`,
            );
          }
    });
  }
});

describe("what the judgement leaves a defect", () => {
  const x = 7 * 64 + 20;
  const y = 8 * 64 + LINE_ROW;
  const image = patternedWafer(1024, { seed: 10, fault: { x, y, value: 65535 } });
  const { work, judge } = judgeOf(image);
  const group = groupAt(work, x, y, 1);

  it("a fault-shaped spike whose verdict the noise could flip (the smallest spot's response under 4 sigmas of the neighbours' weighted medians)", () => {
    assert.equal(isSensorFault(group, judge), true);
    // The same spike in noise 20 times higher: 0.14 x spike is then under 4 sigmas of the
    // weighted response (pixel sigma x 1.07 x 0.4).
    assert.equal(isSensorFault(group, { ...judge, pixelSigma: 20 * judge.pixelSigma }), false);
  });

  it("a spike under a fault's size (the gate's 12 sigmas and 10% of full scale, per map pixel)", () => {
    assert.equal(isSensorFault(group, { ...judge, spikeFloor: 65535 }), false);
  });

  it("a candidate with fewer than three directions whose references are on the wafer", () => {
    // A disk through the candidate's column: the references at -a and +-(a +- b) fall off it.
    const mx = Math.floor(x / work.scale);
    const my = Math.floor(y / work.scale);
    const tight = { cx: mx + 1000, cy: my, r: 1000 + 40 };
    assert.equal(isSensorFault(group, { ...judge, disk: tight }), false);
  });

  it("a group reaching beyond a point (a defect's extent, not one pixel)", () => {
    const wide = Int32Array.from([...group.pixels, (y + 6) * work.width + x]);
    assert.equal(isSensorFault({ pixels: wide, sign: 1 }, judge), false);
  });
});

describe("detection through the gate on a patterned wafer built here", () => {
  const fault = { x: 7 * 64 + 20, y: 8 * 64 + LINE_ROW, value: 41500 };

  it("a hot pixel on a 1 px motif line, which the gate's raw test keeps, is no defect and is counted", async () => {
    const image = patternedWafer(1024, { seed: 1, fault });
    // The gate alone keeps it: its neighbours (line, brighter above, darker below) disagree.
    assert.equal(assessQuality(image).quality.hotPixelsRemoved, 0);
    const result = await gatedDetect(image, {}, detect);
    assert.equal(result.status, "inspected");
    assert.deepEqual(result.defects, []);
    assert.equal(result.quality.hotPixelsRemoved, 1);
    assert.equal("sensorFaultsRemoved" in result, false);
  });

  it("a real 1.5 px particle (3 px at 2048) at the same place is found", async () => {
    const spot = { x: fault.x + 0.5, y: fault.y + 0.5, diameter: 1.5, contrast: 15000 };
    const result = await gatedDetect(patternedWafer(1024, { seed: 1, spot }), {}, detect);
    assert.equal(result.defects.length, 1);
    assert.equal(result.defects[0]?.class, "particle");
    assert.equal(result.quality.hotPixelsRemoved, 0);
  });

  it("a real 3 px particle at 2048 px, centred on a 2x2 bin, is found", async () => {
    const spot = { x: 2 * fault.x + 1, y: 2 * fault.y + 1, diameter: 3, contrast: 15000 };
    const result = await gatedDetect(patternedWafer(2048, { seed: 10, spot }), {}, detect);
    assert.equal(result.defects.length, 1);
    assert.equal(result.defects[0]?.class, "particle");
    assert.equal(result.quality.hotPixelsRemoved, 0);
  });
});
